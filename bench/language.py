"""Language guard benchmark: the time to check one variant and the memory the detector costs.

    DEBUG=1 .venv/bin/python bench/language.py

Every corpus text (tests/publisher/language/corpus.py) is checked in its own slot and in each
wrong one, ROUNDS times, timed one call at a time: detection alone
(publisher.language.detection.language_findings) and the whole guard
(publisher.language.guard.text_findings, place names included). Memory: the process's resident
set (VmRSS) before the detector is imported and after it is built and has checked the corpus;
the high-accuracy models, measured the same way in a child process, are printed for comparison
(they are what the low-accuracy mode saves).

Targets on the reference machine: p99 ≤ 10 ms per variant, memory growth ≤ 100 MB.
Prints, never asserts.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 20


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def high_accuracy_growth() -> None:
    """Child process: RSS growth with the high-accuracy models, for comparison only."""
    before = rss_mb()
    from lingua import Language, LanguageDetectorBuilder

    detector = (
        LanguageDetectorBuilder.from_languages(Language.FRENCH, Language.DUTCH, Language.GERMAN, Language.ENGLISH)
        .with_preloaded_language_models()
        .build()
    )
    detector.compute_language_confidence_values("Ongeval op de E40 ter hoogte van Leuven.")
    print(f"{rss_mb() - before:.1f}")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.utils import translation

    translation.activate("fr")
    before = rss_mb()
    started = time.perf_counter()
    from publisher.language import detection, guard

    detection.detector()
    detection.clean("Bruxelles")  # builds the place-name pattern too
    load_ms = (time.perf_counter() - started) * 1000
    from tests.publisher.language.corpus import DE, EN, FR, NL

    corpus = {"fr": FR, "nl": NL, "de": DE, "en": EN}
    cases = [(slot, text) for source, texts in corpus.items() for text in texts for slot in ("fr", "nl", "de")]

    # Wall time is what a request waits; on a shared, loaded machine its tail is mostly the
    # scheduler's time slices, so the thread's CPU time is printed beside it.
    results: dict[str, list[float]] = {"detection": [], "guard": [], "detection CPU": [], "guard CPU": []}
    for _ in range(ROUNDS):
        for slot, text in cases:
            c0, t0 = time.thread_time(), time.perf_counter()
            detection.language_findings(language=slot, text=text)
            c1, t1 = time.thread_time(), time.perf_counter()
            guard.text_findings(language=slot, text=text)
            c2, t2 = time.thread_time(), time.perf_counter()
            results["detection"].append((t1 - t0) * 1000)
            results["guard"].append((t2 - t1) * 1000)
            results["detection CPU"].append((c1 - c0) * 1000)
            results["guard CPU"].append((c2 - c1) * 1000)
    after = rss_mb()

    print(f"corpus: {sum(len(t) for t in corpus.values())} texts, {len(cases)} checks x {ROUNDS} rounds")
    print(f"detector build (low accuracy, preloaded) + place names: {load_ms:.0f} ms")
    for name, values in results.items():
        print(
            f"{name:13s} per variant: p50 {statistics.median(values):.3f} ms, p99 {percentile(values, 99):.3f} ms, "
            f"max {max(values):.3f} ms"
        )
    print(f"RSS before {before:.1f} MB, after {after:.1f} MB: growth {after - before:.1f} MB")
    child = subprocess.run(
        [sys.executable, __file__, "--high-accuracy"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    print(f"(for comparison, high-accuracy models: growth {child.stdout.strip() or child.stderr.strip()} MB)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("targets: p99 <= 10 ms per variant, growth <= 100 MB")


if __name__ == "__main__":
    if "--high-accuracy" in sys.argv:
        high_accuracy_growth()
    else:
        main()
