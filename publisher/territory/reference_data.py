"""Loads the Statbel municipality reference data shipped in publisher/data/ (CC BY 4.0, see ATTRIBUTION.md)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from publisher.models import Municipality, PoliceZone, Province
from publisher.territory.search import normalize

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MUNICIPALITIES_CSV = DATA_DIR / "be_municipalities.csv"
ZONES_CSV = DATA_DIR / "be_police_zones.csv"


@dataclass(frozen=True)
class LoadResult:
    municipalities: int
    zones: int
    provinces: int


def _search_text(row: dict[str, str], postal_codes: list[str]) -> str:
    parts = [row["name_fr"], row["name_nl"], row["name_de"], row["nis_code"], *postal_codes]
    return " " + " ".join(dict.fromkeys(normalize(p) for p in parts if p)) + " "


@transaction.atomic
def municipalities_load(municipalities_csv: Path = MUNICIPALITIES_CSV, zones_csv: Path = ZONES_CSV) -> LoadResult:
    """Insert or update provinces, police zones and municipalities. Idempotent."""
    with municipalities_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    with zones_csv.open(encoding="utf-8", newline="") as f:
        zone_rows = [r for r in csv.DictReader(f) if r["zone_code"].strip()]

    provinces = {
        r["province_nis"]: Province(nis_code=r["province_nis"], name_fr=r["province_fr"], name_nl=r["province_nl"])
        for r in rows
        if r["province_nis"]
    }
    Province.objects.bulk_create(
        provinces.values(), update_conflicts=True, unique_fields=["nis_code"], update_fields=["name_fr", "name_nl"]
    )
    zones = {r["zone_code"]: PoliceZone(code=r["zone_code"], label=r["zone_label"]) for r in zone_rows}
    PoliceZone.objects.bulk_create(
        zones.values(), update_conflicts=True, unique_fields=["code"], update_fields=["label"]
    )
    municipalities = []
    for r in rows:
        postal_codes = [p for p in r["postal_codes"].split("|") if p]
        municipalities.append(
            Municipality(
                nis_code=r["nis_code"],
                name_fr=r["name_fr"],
                name_nl=r["name_nl"],
                name_de=r["name_de"],
                language_region=r["language_region"],
                facilities=r["facilities"],
                province_id=r["province_nis"] or None,
                region=r["region"],
                arrondissement_nis=r["arrondissement_nis"],
                postal_codes=" " + " ".join(postal_codes) + " ",
                police_zone_id=r["police_zone"] or None,
                search_text=_search_text(r, postal_codes),
            )
        )
    Municipality.objects.bulk_create(
        municipalities,
        update_conflicts=True,
        unique_fields=["nis_code"],
        update_fields=[f.name for f in Municipality._meta.concrete_fields if not f.primary_key],
    )
    return LoadResult(municipalities=len(municipalities), zones=len(zones), provinces=len(provinces))
