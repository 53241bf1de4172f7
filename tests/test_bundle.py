"""load_bundle: both bundle shapes, inference, and every refusal naming file and problem."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image
from tinybundle import label_colour, make_tiny_bundle, solid_image_array

from app.core.bundle import Bundle, BundleSet, Gate, load_bundle
from app.core.errors import BundleError


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_loads_folder_or_manifest_path(tiny_bundle: Path) -> None:
    by_folder = load_bundle(tiny_bundle)
    by_manifest = load_bundle(str(tiny_bundle / "manifest.json"))
    assert isinstance(by_folder, Bundle)
    assert by_folder.key == by_manifest.key
    assert [f.name for f in by_folder.families] == ["category", "colour"]
    assert by_folder.families[1].labels == ("red", "green", "blue", "white", "black")
    assert by_folder.families[0].threshold == 0.5
    assert by_folder.preprocessing.size == (32, 32)
    assert by_folder.preprocessing.resize == "letterbox"
    assert by_folder.embedding is not None and by_folder.embedding.dim == 8
    assert by_folder.label == "tiny@1"


def test_key_names_bundle_dim_and_model_hash(tmp_path: Path) -> None:
    first = load_bundle(make_tiny_bundle(tmp_path / "a", seed=0))
    same = load_bundle(make_tiny_bundle(tmp_path / "b", seed=0))
    other = load_bundle(make_tiny_bundle(tmp_path / "c", seed=1))
    assert re.fullmatch(r"tiny@1/8/[0-9a-f]{12}", first.key)
    assert first.key == same.key
    assert first.key != other.key


def test_run_gives_probabilities_and_unit_embedding(tiny_bundle: Path) -> None:
    bundle = load_bundle(tiny_bundle)
    colours = [label_colour("colour", c) for c in ("red", "green", "blue")]
    batch = np.concatenate([solid_image_array(c) for c in colours])
    out = bundle.run(batch)
    assert out.probabilities["category"].shape == (3, 4)
    assert out.probabilities["colour"].dtype == np.float32
    np.testing.assert_allclose(out.probabilities["colour"].sum(axis=1), 1.0, rtol=1e-5)
    assert out.probabilities["colour"].argmax(axis=1).tolist() == [0, 1, 2]
    assert out.embedding.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(out.embedding, axis=1), 1.0, rtol=1e-5)


def test_fixed_batch_graph_is_run_photo_by_photo(tmp_path: Path) -> None:
    fixed = load_bundle(make_tiny_bundle(tmp_path / "fixed", fixed_batch=True))
    dynamic = load_bundle(make_tiny_bundle(tmp_path / "dyn"))
    batch = np.concatenate([solid_image_array(c) for c in [(200, 0, 0), (0, 0, 200), (9, 9, 9)]])
    a, b = fixed.run(batch), dynamic.run(batch)
    np.testing.assert_allclose(a.probabilities["colour"], b.probabilities["colour"], atol=1e-6)
    np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-6)


def test_nhwc_bundle_and_run_images(tmp_path: Path) -> None:
    bundle = load_bundle(make_tiny_bundle(tmp_path / "nhwc", layout="NHWC"))
    images = [Image.new("RGB", (50, 30), label_colour("colour", "blue"))]
    out = bundle.run_images(images)
    assert bundle.families[1].labels[int(out.probabilities["colour"][0].argmax())] == "blue"


def test_bundle_without_embedding(tmp_path: Path) -> None:
    bundle = load_bundle(make_tiny_bundle(tmp_path / "noemb", dim=None))
    assert bundle.embedding is None
    assert "/0/" in bundle.key
    assert bundle.run(solid_image_array((1, 2, 3))).embedding is None


def test_set_concatenates_member_embeddings(tiny_set_bundle: Path) -> None:
    bundle = load_bundle(tiny_set_bundle)
    assert isinstance(bundle, BundleSet)
    assert [f.name for f in bundle.families] == ["category", "colour"]
    assert [m.preprocessing.size for m in bundle.members] == [(24, 40), (32, 32)]
    assert bundle.embedding.dim == 16
    assert re.fullmatch(r"tiny-set@1/16/[0-9a-f]{12}", bundle.key)
    assert bundle.min_side == 40
    out = bundle.run([Image.new("RGB", (40, 40), (220, 20, 20)), Image.new("RGB", (9, 5))])
    assert out.probabilities["colour"].shape == (2, 5)
    assert out.probabilities["category"].shape == (2, 4)
    np.testing.assert_allclose(np.linalg.norm(out.embedding, axis=1), 1.0, rtol=1e-5)
    halves = np.linalg.norm(out.embedding[:, :8], axis=1)
    np.testing.assert_allclose(halves, np.sqrt(0.5), rtol=1e-5)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no bundle folder"):
        load_bundle(tmp_path / "nowhere")


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"manifest\.json: the bundle has no manifest"):
        load_bundle(tmp_path)


def test_invalid_json(tiny_bundle: Path) -> None:
    (tiny_bundle / "manifest.json").write_text('{"format": ')
    with pytest.raises(BundleError, match=r"manifest\.json: is not valid JSON \(line 1"):
        load_bundle(tiny_bundle)


def test_unknown_format_version(tiny_bundle: Path) -> None:
    edit_manifest(tiny_bundle, lambda m: m.update(format_version=7))
    with pytest.raises(
        BundleError, match=r"format_version 7 is not supported \(this Vitrina reads 1\)"
    ):
        load_bundle(tiny_bundle)


def test_labels_do_not_match_output_size(tiny_bundle: Path) -> None:
    edit_manifest(tiny_bundle, lambda m: m["families"][1]["labels"].append("pink"))
    with pytest.raises(BundleError) as info:
        load_bundle(tiny_bundle)
    message = str(info.value)
    assert str(tiny_bundle / "manifest.json") in message
    assert 'family "colour" has 6 labels but output "probs_colour" gives 5 values' in message
    assert "Re-export the bundle" in message


def test_missing_output(tiny_bundle: Path) -> None:
    edit_manifest(tiny_bundle, lambda m: m["families"][0].update(output="probs_style"))
    with pytest.raises(BundleError, match=r'reads output "probs_style", which model\.onnx'):
        load_bundle(tiny_bundle)


def test_embedding_dim_mismatch(tiny_bundle: Path) -> None:
    edit_manifest(tiny_bundle, lambda m: m["embedding"].update(dim=16))
    with pytest.raises(BundleError, match='embedding has dim 16 but output "embedding" gives 8'):
        load_bundle(tiny_bundle)


def test_wrong_input_rank(tiny_bundle: Path) -> None:
    node = helper.make_node("Softmax", ["image"], ["probs_category"], axis=1)
    graph = helper.make_graph(
        [node],
        "flat",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("probs_category", TensorProto.FLOAT, ["N", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tiny_bundle / "model.onnx")
    with pytest.raises(BundleError, match=r'input "image" has rank 2 .* expected rank 4'):
        load_bundle(tiny_bundle)


def test_layout_that_does_not_match_graph(tiny_bundle: Path) -> None:
    edit_manifest(tiny_bundle, lambda m: m["input"].update(layout="NHWC"))
    with pytest.raises(BundleError, match="layout NHWC puts 32 channels"):
        load_bundle(tiny_bundle)


def test_size_that_does_not_match_graph(tiny_bundle: Path) -> None:
    edit_manifest(tiny_bundle, lambda m: m["input"].update(size=[64, 64]))
    with pytest.raises(
        BundleError, match=r"input.size is \[64, 64\] but the graph expects \[32, 32\]"
    ):
        load_bundle(tiny_bundle)


def test_missing_onnx_file(tiny_bundle: Path) -> None:
    (tiny_bundle / "model.onnx").unlink()
    with pytest.raises(
        BundleError, match=r"model\.onnx: the model file named in manifest.json is missing"
    ):
        load_bundle(tiny_bundle)


def test_corrupt_onnx_file(tiny_bundle: Path) -> None:
    (tiny_bundle / "model.onnx").write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(BundleError, match=r"model\.onnx: onnxruntime cannot open this model"):
        load_bundle(tiny_bundle)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m["families"][0].update(threshold=1.5), "threshold must be a number within"),
        (lambda m: m["families"][0]["labels"].__setitem__(1, "t-shirt"), "repeats labels"),
        (lambda m: m["families"][0].update(labels=[]), "non-empty list of label strings"),
        (lambda m: m["input"].update(resize="zoom"), "use one of center_crop"),
        (lambda m: m["input"].update(std=[0.5, 0, 0.5]), 'std" values must be greater'),
        (lambda m: m.update(name=""), '"name" must be a non-empty string'),
        (lambda m: m.update(kind="pipeline"), "\"kind\" is 'pipeline'"),
        (lambda m: m.update(format="other"), "\"format\" is 'other'"),
        (lambda m: m["families"].append(dict(m["families"][0])), "family names repeat"),
    ],
)
def test_manifest_problems_are_named(tiny_bundle: Path, change, problem: str) -> None:
    edit_manifest(tiny_bundle, change)
    with pytest.raises(BundleError) as info:
        load_bundle(tiny_bundle)
    assert problem in str(info.value)
    assert str(info.value).startswith(str(tiny_bundle / "manifest.json"))


def test_gate_is_parsed(tmp_path: Path) -> None:
    gate = {"family": "category", "labels": ["t-shirt", "dress"]}
    bundle = load_bundle(make_tiny_bundle(tmp_path / "gated", applies_to={"colour": gate}))
    category, colour = bundle.families
    assert category.applies_to is None
    assert colour.applies_to == Gate("category", frozenset({"t-shirt", "dress"}))


@pytest.mark.parametrize(
    ("gates", "problem"),
    [
        ({"colour": ["category"]}, '"applies_to" must be an object'),
        ({"colour": {"family": "sleeve", "labels": ["t-shirt"]}}, 'names family "sleeve"'),
        ({"colour": {"family": "category", "labels": ["hat"]}}, "lists labels ['hat']"),
        ({"colour": {"family": "category", "labels": []}}, "non-empty list of label strings"),
        ({"colour": {"family": "colour", "labels": ["red"]}}, "names the family itself"),
        (
            {
                "colour": {"family": "category", "labels": ["dress"]},
                "category": {"family": "colour", "labels": ["red"]},
            },
            "gates in a cycle",
        ),
    ],
)
def test_bad_gates_are_named(tmp_path: Path, gates: dict, problem: str) -> None:
    with pytest.raises(BundleError) as info:
        load_bundle(make_tiny_bundle(tmp_path / "gated", applies_to=gates))
    assert problem in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "gated" / "manifest.json"))


def test_set_gate_may_name_another_members_family(tiny_set_bundle: Path) -> None:
    def gate(labels: list[str]):
        gate = {"family": "category", "labels": labels}
        return lambda m: m["families"][0].update(applies_to=gate)

    edit_manifest(tiny_set_bundle / "colour", gate(["dress"]))
    assert load_bundle(tiny_set_bundle).families[1].applies_to.family == "category"
    edit_manifest(tiny_set_bundle / "colour", gate(["hat"]))
    with pytest.raises(BundleError, match=r"lists labels \['hat'\]"):
        load_bundle(tiny_set_bundle)


def test_set_with_missing_member(tiny_set_bundle: Path) -> None:
    edit_manifest(tiny_set_bundle, lambda m: m["members"].append("sleeve"))
    with pytest.raises(BundleError, match="member folder 'sleeve' does not exist"):
        load_bundle(tiny_set_bundle)


def test_set_member_may_not_be_a_set(tiny_set_bundle: Path) -> None:
    edit_manifest(tiny_set_bundle / "colour", lambda m: m.update(kind="set"))
    with pytest.raises(BundleError, match='a set member must be of kind "model"'):
        load_bundle(tiny_set_bundle)


def test_non_float_input_is_refused(tiny_bundle: Path) -> None:
    cast = helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT)
    pool = helper.make_node("GlobalAveragePool", ["f"], ["p"])
    flat = helper.make_node("Flatten", ["p"], ["probs_category"], axis=1)
    graph = helper.make_graph(
        [cast, pool, flat],
        "uint8",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("probs_category", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tiny_bundle / "model.onnx")
    with pytest.raises(BundleError, match=r'input "image" takes tensor\(uint8\)'):
        load_bundle(tiny_bundle)


@pytest.mark.parametrize("model", ["../model.onnx", "/etc/passwd", "sub/../../model.onnx"])
def test_a_model_path_outside_the_bundle_is_refused(tiny_bundle: Path, model: str) -> None:
    edit_manifest(tiny_bundle, lambda m: m.update(model=model))
    with pytest.raises(BundleError, match="outside the bundle folder"):
        load_bundle(tiny_bundle)


def test_a_set_member_outside_the_set_is_refused(tiny_set_bundle: Path) -> None:
    edit_manifest(tiny_set_bundle, lambda m: m.update(members=["../elsewhere"]))
    with pytest.raises(BundleError, match="outside the bundle folder"):
        load_bundle(tiny_set_bundle)


def _swap_softmax(folder: Path, op: str, **attributes) -> None:
    """Replace the first family's Softmax with ``op``: a graph that runs but answers nonsense."""
    model = onnx.load(folder / "model.onnx")
    for i, node in enumerate(model.graph.node):
        if node.op_type == "Softmax":
            model.graph.node[i].CopyFrom(
                helper.make_node(op, list(node.input), list(node.output), **attributes)
            )
            break
    onnx.save(model, folder / "model.onnx")


@pytest.mark.parametrize(
    ("op", "problem"),
    [("Identity", "outside 0..1|not a probability"), ("Sqrt", "NaN"), ("Sigmoid", "sums to")],
)
def test_impossible_outputs_are_the_bundles_fault(tiny_bundle: Path, op: str, problem: str) -> None:
    """NaN, negative or non-normalised probabilities are refused before anything stores them."""
    _swap_softmax(tiny_bundle, op)
    bundle = load_bundle(tiny_bundle)
    batch = np.concatenate([solid_image_array(rgb) for rgb in ((200, 30, 30), (10, 10, 250))])
    with pytest.raises(BundleError, match=f"impossible answer.*({problem})") as info:
        bundle.run(batch)
    assert "re-export" in str(info.value) and str(bundle.model_path) in str(info.value)
