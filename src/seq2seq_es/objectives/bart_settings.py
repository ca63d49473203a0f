"""The knobs of BART's noise, validated once (shared by both noise variants and the collator).

Why a module of its own: ``fairseq_noise`` and ``exact_ratio_noise`` both read these
settings and ``bart_denoising`` (the collator) picks between them; keeping the
dataclass here avoids an import cycle between the three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seq2seq_es.errors import ConfigError

BartNoiseKind = Literal["fairseq", "exact-ratio"]
NOISE_KINDS: tuple[BartNoiseKind, ...] = ("fairseq", "exact-ratio")


@dataclass(frozen=True)
class BartNoiseSettings:
    """Defaults are BART's / BARTO's pretraining values (fairseq ``--mask 0.3
    --mask-random 0.1 --poisson-lambda 3 --permute-sentences 1 --replace-length 1``).

    ``noise`` picks the algorithm: ``fairseq`` is fairseq's ``DenoisingDataset``
    (:mod:`fairseq_noise`), ``exact-ratio`` our variant that masks exactly
    ``mask_ratio`` of the words (:mod:`exact_ratio_noise`); objectives/README.md lists
    how they differ. ``replace_length`` is fairseq's: a masked span becomes one
    ``<mask>`` (1), disappears (0), or becomes one ``<mask>`` per token (-1).
    """

    mask_ratio: float = 0.3
    poisson_lambda: float = 3.0
    permute_sentence_ratio: float = 1.0
    insert_ratio: float = 0.0
    random_ratio: float = 0.1
    noise: BartNoiseKind = "fairseq"
    replace_length: int = 1

    def __post_init__(self) -> None:
        for name in ("mask_ratio", "permute_sentence_ratio", "random_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(
                    f"objective.{name}={getattr(self, name)} must be between 0 and 1."
                )
        if self.mask_ratio >= 1.0:
            raise ConfigError(
                "objective.mask_ratio must be below 1: some text has to stay visible."
            )
        if self.poisson_lambda <= 0:
            raise ConfigError(
                f"objective.poisson_lambda={self.poisson_lambda} must be positive (BART uses 3)."
            )
        if self.insert_ratio < 0:
            raise ConfigError(f"objective.insert_ratio={self.insert_ratio} must be >= 0.")
        if self.noise not in NOISE_KINDS:
            raise ConfigError(
                f"objective.noise={self.noise!r} must be one of {', '.join(NOISE_KINDS)}."
            )
        if self.replace_length not in (-1, 0, 1):
            raise ConfigError(
                f"objective.replace_length={self.replace_length} must be -1, 0 or 1 (fairseq's "
                "--replace-length; BART uses 1)."
            )
        if self.noise == "exact-ratio" and self.replace_length != 1:
            raise ConfigError(
                "objective.replace_length other than 1 needs objective.noise=fairseq: the "
                "exact-ratio variant always replaces a span by one <mask>."
            )
