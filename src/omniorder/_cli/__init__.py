"""The commands of ``omniorder`` beyond the demo, one module each (see :mod:`omniorder.cli`)."""
