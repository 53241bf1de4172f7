"""Model bundles (docs/bundle.md): the one place a manifest is read and an ONNX session opened.

Everything else receives a loaded :class:`Bundle` or :class:`BundleSet`, so a bad bundle
fails once, at load, with a message naming the file, the problem and the way out.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import onnxruntime as ort

from app.core.decode import preprocess
from app.core.errors import BundleError

if TYPE_CHECKING:
    from PIL import Image

FORMAT = "vitrina-bundle"
SUPPORTED_FORMAT_VERSIONS = (1,)
MANIFEST_NAME = "manifest.json"
RESIZE_MODES = ("center_crop", "letterbox", "stretch")
LAYOUTS = ("NCHW", "NHWC")
FIX_HINT = "Re-export the bundle or fix its manifest.json."
# Rows of a family output must sum to 1 within this (float32 softmax is off by ~1e-7).
PROBABILITY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Preprocessing:
    """How a photo becomes the network's input tensor."""

    size: tuple[int, int]  # (height, width)
    resize: Literal["center_crop", "letterbox", "stretch"]
    fill: tuple[int, int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layout: Literal["NCHW", "NHWC"]

    @property
    def min_side(self) -> int:
        """Both sides of a decoded photo must be at least this for no loss of detail."""
        return max(self.size)


@dataclass(frozen=True)
class Gate:
    """``applies_to``: the family only makes sense when ``family``'s top label is in ``labels``
    (a sleeve length for shoes is nonsense)."""

    family: str
    labels: frozenset[str]


@dataclass(frozen=True)
class Family:
    """A tag family: one output of the graph, its labels and its calibrated threshold."""

    name: str
    output: str
    labels: tuple[str, ...]
    threshold: float
    calibration: dict = field(default_factory=dict, compare=False, hash=False)
    applies_to: Gate | None = None


@dataclass(frozen=True)
class EmbeddingSpec:
    output: str
    dim: int
    normalized: bool
    description: str


@dataclass(frozen=True)
class FeaturesSpec:
    """A compact per-photo description for what a catalog learns from its reviews
    (app.core.learning): standardised, so one penalty fits every dimension."""

    output: str
    dim: int
    description: str


@dataclass
class BundleOutput:
    probabilities: dict[str, np.ndarray]  # family -> (N, K) float32
    embedding: np.ndarray | None  # (N, D) float32, L2-normalised
    features: np.ndarray | None = None  # (N, F) float32, for learning from reviews


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class _Problem(Exception):
    """A manifest problem, turned into a BundleError naming the manifest."""


def _need(ok: bool, problem: str) -> None:
    if not ok:
        raise _Problem(problem)


def _manifest_error(manifest_path: Path, problem: str) -> BundleError:
    """A manifest's problem as the user reads it: the file, what is wrong, what to do."""
    return BundleError(f"{manifest_path}: {problem}. {FIX_HINT}")


@contextmanager
def _checking(manifest_path: Path) -> Iterator[None]:
    """Checks of one manifest: a problem found inside becomes its BundleError."""
    try:
        yield
    except _Problem as exc:
        raise _manifest_error(manifest_path, str(exc)) from None


def _label(name: str, version: str) -> str:
    """The one spelling of ``name@version`` for a bundle and a set."""
    return f"{name}@{version}"


def _key(name: str, version: str, embedding: EmbeddingSpec | None, digest12: str) -> str:
    """``name@version/dim/hash12`` (docs/bundle.md): ties an index and stored embeddings to
    the graph(s) that made them, for a bundle and a set alike."""
    dim = embedding.dim if embedding else 0
    return f"{_label(name, version)}/{dim}/{digest12}"


def _text(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    _need(
        isinstance(value, str) and bool(value.strip()), f'{where}"{key}" must be a non-empty string'
    )
    return value


def _numbers(value: Any, count: int, what: str) -> tuple[float, ...]:
    _need(
        isinstance(value, list)
        and len(value) == count
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value),
        f"{what} must be a list of {count} numbers",
    )
    return tuple(float(v) for v in value)


def _parse_preprocessing(data: Any) -> Preprocessing:
    _need(isinstance(data, dict), '"input" must be an object')
    size = _numbers(data.get("size"), 2, '"input.size"')
    _need(all(s >= 1 and s == int(s) for s in size), '"input.size" must be two positive integers')
    resize = data.get("resize", "letterbox")
    _need(
        resize in RESIZE_MODES,
        f'"input.resize" is {resize!r}; use one of {", ".join(RESIZE_MODES)}',
    )
    layout = data.get("layout", "NCHW")
    _need(layout in LAYOUTS, f'"input.layout" is {layout!r}; use NCHW or NHWC')
    fill = _numbers(data.get("fill", [255, 255, 255]), 3, '"input.fill"')
    _need(all(0 <= v <= 255 for v in fill), '"input.fill" values must be within 0..255')
    mean = _numbers(data.get("mean"), 3, '"input.mean"')
    std = _numbers(data.get("std"), 3, '"input.std"')
    _need(all(s > 0 for s in std), '"input.std" values must be greater than 0')
    return Preprocessing(
        size=(int(size[0]), int(size[1])),
        resize=resize,
        fill=tuple(int(v) for v in fill),
        mean=mean,
        std=std,
        layout=layout,
    )


def _label_list(value: Any) -> bool:
    """A family's labels and a gate's alike: a non-empty list of non-empty strings."""
    return isinstance(value, list) and bool(value) and all(isinstance(x, str) and x for x in value)


def _parse_family(data: Any, index: int) -> Family:
    _need(isinstance(data, dict), f"families[{index}] must be an object")
    name = _text(data, "name", f"families[{index}].")
    where = f'family "{name}" '
    output = _text(data, "output", where)
    labels = data.get("labels")
    _need(_label_list(labels), f"{where}needs a non-empty list of label strings")
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    _need(not duplicates, f"{where}repeats labels {duplicates}")
    threshold = data.get("threshold")
    _need(
        isinstance(threshold, int | float)
        and not isinstance(threshold, bool)
        and 0.0 <= threshold <= 1.0,
        f"{where}threshold must be a number within [0, 1], not {threshold!r}",
    )
    calibration = data.get("calibration", {})
    _need(isinstance(calibration, dict), f'{where}"calibration" must be an object')
    return Family(
        name, output, tuple(labels), float(threshold), calibration, _parse_gate(data, where)
    )


def _parse_gate(data: dict, where: str) -> Gate | None:
    gate = data.get("applies_to")
    if gate is None:
        return None
    _need(isinstance(gate, dict), f'{where}"applies_to" must be an object')
    family = _text(gate, "family", f"{where}applies_to.")
    labels = gate.get("labels")
    _need(
        _label_list(labels), f'{where}"applies_to.labels" must be a non-empty list of label strings'
    )
    return Gate(family, frozenset(labels))


def _check_gates(families: Sequence[Family]) -> None:
    """Every ``applies_to`` names another family of the bundle and labels it has, without cycles."""
    by_name = {f.name: f for f in families}
    gated = [(f, f.applies_to, f'family "{f.name}" applies_to') for f in families if f.applies_to]
    for family, gate, where in gated:
        _need(gate.family != family.name, f"{where} names the family itself")
        _need(
            gate.family in by_name,
            f'{where} names family "{gate.family}", which the bundle does not have '
            f"(it has {sorted(by_name)})",
        )
        unknown = sorted(gate.labels - set(by_name[gate.family].labels))
        _need(not unknown, f'{where} lists labels {unknown} that family "{gate.family}" lacks')
    for family, gate, where in gated:
        chain = [family.name]
        while gate is not None:
            cycle = " -> ".join([*chain, gate.family])
            _need(gate.family not in chain, f"{where} gates in a cycle: {cycle}")
            chain.append(gate.family)
            gate = by_name[gate.family].applies_to


def _output_spec(data: Any, section: str) -> tuple[str, int] | None:
    """An optional output the manifest describes (``embedding``, ``features``): its name
    and its width, checked alike for both."""
    if data is None:
        return None
    _need(isinstance(data, dict), f'"{section}" must be an object')
    output = _text(data, "output", f"{section}.")
    dim = data.get("dim")
    _need(
        isinstance(dim, int) and not isinstance(dim, bool) and dim > 0,
        f'"{section}.dim" must be a positive integer, not {dim!r}',
    )
    return output, dim


def _parse_embedding(data: Any) -> EmbeddingSpec | None:
    spec = _output_spec(data, "embedding")
    if spec is None:
        return None
    output, dim = spec
    return EmbeddingSpec(
        output, dim, bool(data.get("normalized", True)), str(data.get("description", ""))
    )


def _parse_features(data: Any) -> FeaturesSpec | None:
    spec = _output_spec(data, "features")
    if spec is None:
        return None
    output, dim = spec
    return FeaturesSpec(output, dim, str(data.get("description", "")))


def _read_manifest(manifest_path: Path) -> dict:
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(
            f"{manifest_path}: the bundle has no manifest.json. "
            "Point Vitrina at a bundle folder written by vitrina-train export."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path}: cannot be read ({exc}). Check the file.") from exc
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"{manifest_path}: is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}). {FIX_HINT}"
        ) from None
    with _checking(manifest_path):
        _need(isinstance(manifest, dict), "must hold a JSON object")
        _need(
            manifest.get("format") == FORMAT,
            f'"format" is {manifest.get("format")!r}, expected "{FORMAT}"',
        )
        version = manifest.get("format_version")
        supported = ", ".join(str(v) for v in SUPPORTED_FORMAT_VERSIONS)
        _need(
            version in SUPPORTED_FORMAT_VERSIONS and not isinstance(version, bool),
            f"format_version {version!r} is not supported (this Vitrina reads {supported}); "
            "update Vitrina or export the bundle in a supported version",
        )
    return manifest


def _session_options(threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _open_session(model_path: Path, threads: int | None) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(
            str(model_path), _session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises several unrelated exception types
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(
            f"{model_path}: onnxruntime cannot open this model ({detail}). "
            "The file is corrupt or not ONNX; re-export the bundle."
        ) from exc


def _file_hash12(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _resolve(path: Path | str) -> tuple[Path, Path]:
    """(bundle folder, manifest path) from either of them."""
    path = Path(path)
    folder = path.parent if path.name == MANIFEST_NAME or path.is_file() else path
    if not folder.is_dir():
        raise BundleError(
            f"{folder}: no bundle folder here. Train and export one (vitrina-train) "
            "or pass the folder that holds manifest.json and model.onnx."
        )
    return folder, folder / MANIFEST_NAME


def _fixed(dim: Any) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


class Bundle:
    """One ONNX graph and its manifest, with the one shared onnxruntime session.

    ``check_gates=False`` is for set members, whose gates may name another member's family;
    the set checks them over all its families.
    """

    kind = "model"

    def __init__(
        self,
        path: Path,
        manifest: dict,
        manifest_path: Path,
        threads: int | None = None,
        check_gates: bool = True,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self._manifest_path = manifest_path
        with _checking(manifest_path):
            self.name = _text(manifest, "name", "")
            self.version = _text(manifest, "version", "")
            model_name = _text(manifest, "model", "")
            self.preprocessing = _parse_preprocessing(manifest.get("input"))
            self.input_name = _text(manifest["input"], "name", "input.")
            families = manifest.get("families")
            _need(isinstance(families, list) and families, '"families" must be a non-empty list')
            self.families = tuple(_parse_family(f, i) for i, f in enumerate(families))
            names = [f.name for f in self.families]
            _need(len(set(names)) == len(names), f"family names repeat: {names}")
            if check_gates:
                _check_gates(self.families)
            self.embedding = _parse_embedding(manifest.get("embedding"))
            self.features = _parse_features(manifest.get("features"))
        self.model_path = _inside(path, model_name, manifest_path, '"model"')
        if not self.model_path.is_file():
            raise BundleError(
                f"{self.model_path}: the model file named in manifest.json is missing. "
                "Copy the whole bundle folder or re-export it."
            )
        self.session = _open_session(self.model_path, threads)
        self._fixed_batch = self._check_graph()
        self.key = _key(self.name, self.version, self.embedding, _file_hash12(self.model_path))

    @property
    def label(self) -> str:
        """``name@version``, stored with every prediction."""
        return _label(self.name, self.version)

    @property
    def min_side(self) -> int:
        return self.preprocessing.min_side

    def _fail(self, problem: str) -> BundleError:
        return _manifest_error(self._manifest_path, problem)

    def _broken(self, problem: str) -> BundleError:
        """A graph that runs but answers nonsense: the bundle's fault, never the catalog's,
        and nothing of it is stored."""
        return BundleError(
            f"{self.model_path}: the model gave an impossible answer ({problem}); the bundle "
            "is damaged or was exported wrongly. Use another bundle or re-export this one."
        )

    def _check_probabilities(self, family: Family, values: np.ndarray) -> None:
        output = f'output "{family.output}" of family "{family.name}"'
        if not np.isfinite(values).all():
            raise self._broken(f"{output} holds NaN or infinity")
        if (values < 0).any() or (values > 1 + PROBABILITY_TOLERANCE).any():
            raise self._broken(f"{output} holds values outside 0..1")
        sums = values.sum(axis=1)
        if (np.abs(sums - 1) > PROBABILITY_TOLERANCE).any():
            worst = float(sums[np.argmax(np.abs(sums - 1))])
            raise self._broken(f"{output} is not a probability: a row sums to {worst:.3g}")

    def _check_graph(self) -> bool:
        """Compare the manifest with the graph; True when the graph fixes the batch to 1."""
        inputs = {i.name: i for i in self.session.get_inputs()}
        if self.input_name not in inputs:
            raise self._fail(
                f'input "{self.input_name}" is not in {self.model_path.name} '
                f"(the graph has {sorted(inputs)})"
            )
        if inputs[self.input_name].type != "tensor(float)":
            raise self._fail(
                f'input "{self.input_name}" takes {inputs[self.input_name].type}, '
                "but Vitrina feeds float32 images"
            )
        shape = inputs[self.input_name].shape
        if len(shape) != 4:
            raise self._fail(
                f'input "{self.input_name}" has rank {len(shape)} {shape}, expected rank 4 '
                f"({self.preprocessing.layout})"
            )
        pre = self.preprocessing
        channels, spatial = (
            (shape[1], shape[2:4]) if pre.layout == "NCHW" else (shape[3], shape[1:3])
        )
        if _fixed(channels) not in (None, 3):
            raise self._fail(
                f"layout {pre.layout} puts {channels} channels on the channel axis of "
                f'input "{self.input_name}" {shape}, expected 3'
            )
        for got, want in zip(spatial, pre.size, strict=True):
            if _fixed(got) not in (None, want):
                raise self._fail(
                    f"input.size is {list(pre.size)} but the graph expects "
                    f"{[_fixed(s) for s in spatial]}"
                )
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        expected = [
            (f.output, len(f.labels), f'family "{f.name}"', f"{len(f.labels)} labels")
            for f in self.families
        ]
        if self.embedding:
            dim = self.embedding.dim
            expected.append((self.embedding.output, dim, "embedding", f"dim {dim}"))
        if self.features:
            dim = self.features.dim
            expected.append((self.features.output, dim, "features", f"dim {dim}"))
        for output, size, owner, what in expected:
            if output not in outputs:
                raise self._fail(
                    f'{owner} reads output "{output}", which {self.model_path.name} does not '
                    f"have (it has {sorted(outputs)})"
                )
            got = outputs[output]
            if len(got) != 2:
                raise self._fail(f'output "{output}" has shape {got}, expected (batch, {size})')
            if _fixed(got[1]) not in (None, size):
                raise self._fail(f'{owner} has {what} but output "{output}" gives {got[1]} values')
        return _fixed(shape[0]) == 1

    def run(self, batch: np.ndarray) -> BundleOutput:
        """Run a preprocessed batch (N, ...) through the graph."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        names = [f.output for f in self.families]
        if self.embedding:
            names.append(self.embedding.output)
        if self.features:
            names.append(self.features.output)
        try:
            if self._fixed_batch:
                parts = [
                    self.session.run(names, {self.input_name: batch[i : i + 1]})
                    for i in range(len(batch))
                ]
                results = [np.concatenate(col) for col in zip(*parts, strict=True)]
            else:
                results = self.session.run(names, {self.input_name: batch})
        except Exception as exc:  # onnxruntime's errors share no useful base class
            raise BundleError(
                f"{self.model_path}: inference failed ({str(exc).strip()[:200]}). "
                "The bundle does not fit its manifest; re-export it."
            ) from exc
        probabilities = {}
        for family, values in zip(self.families, results, strict=False):
            values = np.asarray(values, dtype=np.float32)
            if values.ndim != 2 or values.shape[1] != len(family.labels):
                raise self._fail(
                    f'family "{family.name}" has {len(family.labels)} labels but output '
                    f'"{family.output}" gives {values.shape[-1]} values'
                )
            self._check_probabilities(family, values)
            probabilities[family.name] = values
        embedding = features = None
        if self.features:
            features = self._vectors(results.pop(), "features", self.features)
        if self.embedding:
            embedding = l2_normalise(self._vectors(results[-1], "embedding", self.embedding))
        return BundleOutput(probabilities, embedding, features)

    def _vectors(self, values: Any, section: str, spec: EmbeddingSpec | FeaturesSpec) -> np.ndarray:
        """An embedding or features output as float32 (N, dim); one of another width is
        the manifest's fault, NaN or infinity the graph's."""
        vectors = np.asarray(values, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != spec.dim:
            raise self._fail(
                f"{section}.dim is {spec.dim} but output "
                f'"{spec.output}" gives {vectors.shape[-1]} values'
            )
        if not np.isfinite(vectors).all():
            raise self._broken(f'output "{spec.output}" holds NaN or infinity')
        return vectors

    def run_images(self, images: Sequence[Image.Image]) -> BundleOutput:
        """Preprocess RGB images per the manifest and run them as one batch."""
        return self.run(np.stack([preprocess(im, self.preprocessing) for im in images]))


class BundleSet:
    """Several single-family bundles run side by side; embeddings concatenated (docs/bundle.md)."""

    kind = "set"

    def __init__(
        self, path: Path, manifest: dict, manifest_path: Path, threads: int | None = None
    ) -> None:
        self.path = path
        self.manifest = manifest
        with _checking(manifest_path):
            self.name = _text(manifest, "name", "")
            self.version = _text(manifest, "version", "")
            members = manifest.get("members")
            _need(
                isinstance(members, list)
                and members
                and all(isinstance(m, str) and m for m in members),
                '"members" must be a non-empty list of sub-folder names',
            )
        self.members: tuple[Bundle, ...] = tuple(
            _load_member(_inside(path, m, manifest_path, "a member"), manifest_path, threads)
            for m in members
        )
        self.families = tuple(f for m in self.members for f in m.families)
        names = [f.name for f in self.families]
        if len(set(names)) != len(names):
            raise _manifest_error(manifest_path, f"members repeat family names {names}")
        with _checking(manifest_path):
            _check_gates(self.families)
        dims = [m.embedding.dim for m in self.members if m.embedding]
        self.embedding = (
            EmbeddingSpec(
                "embedding",
                sum(dims),
                True,
                "members' L2-normalised embeddings, concatenated and normalised",
            )
            if dims
            else None
        )
        feature_dims = [m.features.dim for m in self.members if m.features]
        self.features = (
            FeaturesSpec("features", sum(feature_dims), "members' features, concatenated")
            if feature_dims
            else None
        )
        members_digest = hashlib.sha256("\n".join(m.key for m in self.members).encode())
        self.key = _key(self.name, self.version, self.embedding, members_digest.hexdigest()[:12])

    @property
    def label(self) -> str:
        return _label(self.name, self.version)

    @property
    def min_side(self) -> int:
        return max(m.min_side for m in self.members)

    def run_images(self, images: Sequence[Image.Image]) -> BundleOutput:
        """Run every member on the images, each with its own preprocessing."""
        outputs = [m.run_images(images) for m in self.members]
        probabilities = {k: v for out in outputs for k, v in out.probabilities.items()}
        parts = [out.embedding for out in outputs if out.embedding is not None]
        embedding = l2_normalise(np.concatenate(parts, axis=1)) if parts else None
        described = [out.features for out in outputs if out.features is not None]
        features = np.concatenate(described, axis=1) if described else None
        return BundleOutput(probabilities, embedding, features)

    run = run_images


def _inside(folder: Path, name: str, manifest_path: Path, what: str) -> Path:
    """``folder / name``, refused when it leads out of the bundle folder (an absolute path,
    ``..``, a link elsewhere): a bundle is one self-contained folder."""
    target = folder / name
    if not target.resolve().is_relative_to(folder.resolve()):
        raise BundleError(
            f"{manifest_path}: {what} {name!r} lies outside the bundle folder {folder}; a bundle "
            "names only files inside its own folder. Fix manifest.json or re-export the bundle."
        )
    return target


def _load_member(folder: Path, set_manifest: Path, threads: int | None) -> Bundle:
    if not folder.is_dir():
        raise BundleError(
            f"{set_manifest}: member folder {folder.name!r} does not exist. "
            "Copy the whole bundle set or fix its members list."
        )
    manifest_path = folder / MANIFEST_NAME
    manifest = _read_manifest(manifest_path)
    if manifest.get("kind", "model") != "model":
        raise BundleError(
            f'{manifest_path}: a set member must be of kind "model", not '
            f"{manifest.get('kind')!r}. Flatten the nested set."
        )
    return Bundle(folder, manifest, manifest_path, threads, check_gates=False)


def load_bundle(path: Path | str, threads: int | None = None) -> Bundle | BundleSet:
    """Load and validate a bundle folder (or its manifest.json); raise BundleError if unusable.

    ``threads``: onnxruntime intra-op threads (default: every core); the window passes
    fewer so that a core stays free for its event loop while photos are tagged.
    """
    folder, manifest_path = _resolve(path)
    manifest = _read_manifest(manifest_path)
    kind = manifest.get("kind", "model")
    if kind == "model":
        return Bundle(folder, manifest, manifest_path, threads)
    if kind == "set":
        return BundleSet(folder, manifest, manifest_path, threads)
    raise _manifest_error(manifest_path, f'"kind" is {kind!r}; use "model" or "set"')
