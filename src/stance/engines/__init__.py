"""Engines that run the scoring pipeline beyond one process (``stance score --engine``)."""
