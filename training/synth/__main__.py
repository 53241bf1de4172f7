"""Entry point for `python -m training.synth`."""

from training.synth.generate import main

main()
