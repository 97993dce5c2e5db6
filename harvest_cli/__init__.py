"""The `tiktok-harvest` command line: a thin layer over producers and workers."""
