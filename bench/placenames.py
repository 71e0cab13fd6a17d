"""Place-name check time per text (the compose page calls it on every pause in typing).

    DEBUG=1 DATABASE_URL=sqlite:////tmp/bench-placenames.sqlite3 .venv/bin/python bench/placenames.py

Prints the table build time (once per process) and p50/p99 of one check on 280-character
texts in French, Dutch and German, with and without names to replace. Prints, never asserts.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 2000

TEXTS = {
    "fr": (
        "Travaux de nuit sur le ring de Bruxelles entre Anderlecht et Elsene : la sortie vers Luik est "
        "fermée de 22 h à 5 h. Suivez la déviation par Sint-Genesius-Rode. Infos : https://www.police.be "
        "#mobilité @PoliceBruxelles. Soyez prudents, réduisez votre vitesse près des chantiers."
    ),
    "nl": (
        "Nachtwerken op de ring rond Brussel tussen Anderlecht en Ixelles: de afrit naar Liège is gesloten "
        "van 22 tot 5 uur. Volg de omleiding via Rhode-Saint-Genèse. Info: https://www.politie.be "
        "#mobiliteit @PolitieBrussel. Wees voorzichtig en verminder uw snelheid bij de werken."
    ),
    "de": (
        "Nachtarbeiten auf der Straße zwischen Eupen und Saint-Vith: die Ausfahrt nach Bullange ist von 22 "
        "bis 5 Uhr gesperrt. Folgen Sie der Umleitung über Amblève. Infos: https://www.polizei.be #Verkehr "
        "@PolizeiEifel. Seien Sie vorsichtig und fahren Sie langsam an den Baustellen vorbei."
    ),
    "nl-clean": (
        "Nachtwerken op de ring rond Brussel tussen Anderlecht en Elsene: de afrit naar Luik is gesloten "
        "van 22 tot 5 uur. Volg de omleiding via Sint-Genesius-Rode. Info: https://www.politie.be "
        "#mobiliteit @PolitieBrussel. Wees voorzichtig en verminder uw snelheid bij de werken."
    ),
}


def _p(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * percent / 100) - 1)]


def main() -> None:
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from publisher.language import placenames
    from publisher.territory.reference_data import municipalities_load

    municipalities_load()
    placenames.cache_clear()
    started = time.perf_counter()
    placenames._tables()
    print(f"tables built in {(time.perf_counter() - started) * 1000:.1f} ms (once per process)")
    for name, text in TEXTS.items():
        language = name.split("-")[0]
        for _ in range(50):  # warm the character cache and the translation catalogue
            placenames.place_name_findings(language=language, text=text)
        times, cpu = [], []
        for _ in range(RUNS):
            started, started_cpu = time.perf_counter(), time.thread_time()
            findings = placenames.place_name_findings(language=language, text=text)
            times.append((time.perf_counter() - started) * 1_000_000)
            cpu.append((time.thread_time() - started_cpu) * 1_000_000)
        # Wall time includes waiting for a core on a busy machine; CPU time is the check's own cost.
        print(
            f"{name:9} {len(text)} chars, {len(findings)} findings: wall p50 {_p(times, 50):.0f} µs, "
            f"p99 {_p(times, 99):.0f} µs; CPU p50 {_p(cpu, 50):.0f} µs, p99 {_p(cpu, 99):.0f} µs ({RUNS} runs)"
        )


if __name__ == "__main__":
    main()
