"""Remote training: pack a self-contained job here, run it on a GPU machine with no
network, unpack its results here (README.md)."""
