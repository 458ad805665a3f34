"""The code each chapter runs: configurations, training loops and result records.

Chapters stay readable by calling these; the same code is importable and tested.
"""
