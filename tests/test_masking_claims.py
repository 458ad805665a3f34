"""Chapter 2's claims table (masking_demo.masking_claims) on constructed measurements: the rule's verdicts."""

from __future__ import annotations

import pytest

from percloss.experiments.masking_demo import masking_claims


def _results(snr_white: float = 20.0) -> dict:
    def metrics(snr: float, nmr: float) -> dict:
        return {"SNR (dB)": snr, "NMR (dB)": nmr, "frames with audible noise (%)": 0.0}

    return {name: {"shaped_metrics": metrics(20.0, -6.5 - i), "white_metrics": metrics(snr_white, 3.0 + i)}
            for i, name in enumerate(("a", "b"))}


def _judges(shaped_visqol: tuple[float, float], shaped_cdpam: tuple[float, float]) -> dict:
    return {name: {"shaped": {"visqol": v, "cdpam": c}, "white": {"visqol": 3.0, "cdpam": 0.2}}
            for name, v, c in zip(("a", "b"), shaped_visqol, shaped_cdpam, strict=True)}


def test_shaped_noise_better_by_both_judges_on_every_clip_is_reproduced() -> None:
    claims = masking_claims(_results(), _judges((4.0, 3.5), (0.05, 0.1)), 6.0)
    assert [c.verdict.split(":")[0].split(" (")[0] for c in claims] == [
        "not tested here", "reproduced", "not tested here"]
    assert claims[0].measured == "NMR -7.5 to -6.5 dB; ViSQOL 3.50–4.00; CDPAM 0.050–0.100"
    assert "noise 6 dB under each clip's threshold" in claims[0].measure
    assert claims[2].measured == "largest SNR difference 0.0e+00 dB; NMR differs by 9.5–11.5 dB"


def test_one_judge_or_one_clip_against_the_shaped_mix_is_mixed_or_not_reproduced() -> None:
    # ViSQOL favours the shaped mix on both clips, CDPAM is worse on clip b: mixed
    assert masking_claims(_results(), _judges((4.0, 3.5), (0.05, 0.3)), 6.0)[1].verdict.startswith("mixed")
    # neither judge favours it on every clip
    assert masking_claims(_results(), _judges((4.0, 2.5), (0.05, 0.3)), 6.0)[1].verdict.startswith("not reproduced")


def test_mixes_of_unequal_energy_are_refused() -> None:
    with pytest.raises(RuntimeError, match="equal SNR by construction"):
        masking_claims(_results(snr_white=19.0), _judges((4.0, 3.5), (0.05, 0.1)), 6.0)
