"""JSON shapes shared by the API and the pages' JSON views."""

from __future__ import annotations

from dataclasses import asdict

from explorer.provenance import Provenance


def provenance_json(p: Provenance) -> dict:
    return {
        "subject": p.subject,
        "verdict": p.verdict,
        "links": [
            {
                "name": link.name,
                "verdict": link.verdict,
                "reason": link.reason,
                "checks": [asdict(c) for c in link.checks],
                "evidence": link.evidence,
            }
            for link in p.links
        ],
        "finality": None
        if p.finality is None
        else {
            "stage": p.finality.stage,
            "keystone_number": p.finality.keystone_number,
            "anchoring_keystone_number": p.finality.anchoring_keystone_number,
            "publication_height": p.finality.publication_height,
            "bitcoin_tip_height": p.finality.tip_height,
            "effective_confirmations": p.finality.confirmations,
            "super_finality": p.finality.superfinal,
            "btc_finality": p.finality.legacy_btc_finality,
            "waiting_for": p.finality.waiting_for,
        },
        "timeline": [asdict(e) for e in p.timeline],
        "alerts": p.alerts,
    }
