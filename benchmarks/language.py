"""What telling a text's language costs a worker (workers/language.py via records.context)."""

import json
import time
from pathlib import Path

from workers.language import language_tag

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "language_samples.json"


def measure_language(rounds: int = 20) -> float:
    """CPU milliseconds per text, over the labelled samples (long and short texts)."""
    samples = json.loads(SAMPLES.read_text())
    texts = [text for group in samples.values() if isinstance(group, list) for text in group]
    language_tag(texts[0])  # the model loads on first use, once per process
    began = time.process_time()
    for _ in range(rounds):
        for text in texts:
            language_tag(text)
    return 1000 * (time.process_time() - began) / (rounds * len(texts))
