"""Tactic cards: one coherent recommendation per place, every step and every caution shown.

A card shows a :class:`hotspots.tactics.Recommendation` (:func:`hotspots.tactics.recommend`): the
primary tactic for the staffing model chosen, the work alongside it, the cautions that apply, the
one dose, and for each tactic *all* of what officers do with its legitimacy and community-impact
cautions (:func:`hotspots.safeguards.tactic_safeguards`); above it the stop and search notice.
Programme items (the same for every place: tracking, testing, community feedback) are listed once
by :func:`programme`. No analysis happens here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from hotspots.safeguards import stop_search_notice as notice_text
from hotspots_app.common import md

#: The staffing selector's choices (:data:`hotspots.tactics.STAFFING_MODELS`) and their labels.
STAFFING_LABELS = {
    "dedicated_pairs": "Dedicated pairs on foot",
    "response_between_calls": "Response officers between calls",
    "pcso": "PCSOs",
}


def staffing_label(staffing: str) -> str:
    """The knowledge base's label of a staffing model (``"Dedicated pairs on foot"``)."""
    from hotspots.tactics import load_knowledge_base

    model = load_knowledge_base().staffing_models.get(staffing, {})
    return str(model.get("label") or STAFFING_LABELS.get(staffing, staffing))


def tactic_lines(match: Any, label: str = "") -> list[str]:
    """One tactic as markdown lines: name, why here, every step, dose, safeguards, sources."""
    from hotspots.safeguards import tactic_safeguards

    t = match.tactic
    strength = t.evidence.get("strength", "?")
    head = f"**{md(t.id)} {md(t.name)}** (evidence {md(strength)})"
    lines = [(f"*{md(label)}:* " if label else "") + head + f" · guide step: {md(t.step)}"]
    if t.caution:
        lines.append("**Caution.** " + md(match.reason))
    else:
        lines.append("*Why here:* " + md(match.reason))
    if t.legitimacy_review:
        lines.append("**Legitimacy and proportionality review required before use.**")
    lines += ["- " + md(step) for step in t.what_officers_do]
    dose = t.dosage.get("text") if isinstance(t.dosage, dict) else None
    if dose:
        lines.append("*Dose in the trial:* " + md(dose))
    safe = tactic_safeguards(t.id)
    lines.append("*Legitimacy:* " + md(safe["legitimacy"]))
    lines.append("*Community impact:* " + md(safe["community_impact"]))
    sources = ", ".join(md(s.key) for s in t.sources)
    if sources:
        lines.append("*Sources:* " + sources)
    return lines


def _show(match: Any, label: str = "") -> None:
    lines = tactic_lines(match, label)
    steps = [line for line in lines if line.startswith("- ")]
    rest = [line for line in lines[1:] if not line.startswith("- ")]
    n_head = 2 if match.tactic.legitimacy_review else 1  # why here (and the review flag)
    st.markdown(lines[0] + "\n\n" + "\n\n".join(rest[:n_head]))
    if steps:
        st.markdown("*What officers do:*\n" + "\n".join(steps))
    st.markdown("\n\n".join(rest[n_head:]))


def recommendation_card(rec: Any, *, title: str, plan_visits_per_day: int | None = None) -> None:
    """The card of one place's recommendation (a bordered box).

    ``plan_visits_per_day`` (the plan's visits per area a day) says whether the plan carries
    out the recommended dose.
    """
    label = staffing_label(rec.staffing)
    with st.container(border=True):
        st.markdown(f"##### {md(title)}")
        st.caption("**Stop and search:** " + md(notice_text(short=True)))
        _show(rec.primary, f"Primary tactic ({label})")
        st.markdown("*The dose:* " + md(rec.dose.text))
        per_day = rec.dose.visits_per_day
        if plan_visits_per_day is not None:
            if per_day is None:
                st.caption(
                    f"{md(rec.primary.tactic.id)} is a beat covering a shift; this plan schedules "
                    f"{plan_visits_per_day} visit(s) a day, so it does not carry that dose out: "
                    "staff the beat separately or choose another staffing model."
                )
            elif per_day > plan_visits_per_day:
                st.caption(
                    f"The dose is about {per_day} visits a day; this plan schedules "
                    f"{plan_visits_per_day}. Capacity does not allow the full dose: raise the "
                    "officer-hours, or plan fewer areas."
                )
        for m in rec.companions:
            st.divider()
            _show(m, "Alongside it")
        for m in rec.cautions:
            st.divider()
            _show(m, "Caution")
        with st.expander("Why this recommendation"):
            for reason in rec.reasons:
                st.markdown("- " + md(reason))


def programme(recs: Iterable[Any]) -> None:
    """The operation-wide items (the same for every place), once."""
    seen: dict[str, Any] = {}
    for rec in recs:
        for m in rec.programme:
            seen.setdefault(m.tactic.id, m)
    if not seen:
        return
    with st.expander(f"For the whole operation ({len(seen)} items, the same for every area)"):
        for m in seen.values():
            _show(m)
            st.divider()
