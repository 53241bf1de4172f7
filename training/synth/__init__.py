"""Synthetic training photos: catalog garments re-coloured and re-textured.

See docs/synthetic.md. `python -m training.synth --help` writes a dataset.
"""
