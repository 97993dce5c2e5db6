"""Turns harvest specs into registered harvests and the first page message of each window."""
