"""percloss: perceptual loss functions for audio in PyTorch.

Submodules (imported on demand, so ``import percloss`` stays cheap):

- :mod:`percloss.filterbank` -- Bark/mel/ERB scales and FIR filterbanks.
- :mod:`percloss.weighting` -- frequency weightings (A-weighting).
- :mod:`percloss.losses` -- every loss under one contract: MSE, filterbank, spectral (STFT, mel), masking, embedding.
- :mod:`percloss.masking` -- MPEG-1 psychoacoustic model 1 (masking threshold, SMR).
- :mod:`percloss.metrics` -- differentiable measures: SNR, log-spectral distance, noise-to-mask ratio.
- :mod:`percloss.scorers` -- scores of external tools (numpy in, float out): PESQ, ESTOI, DNSMOS, ViSQOL.
- :mod:`percloss.codec`, :mod:`percloss.codec_training` -- the neural codec, its bitstream, loss combination and training.
- :mod:`percloss.degrade` -- degradations (noise, bandlimit, bit depth, clipping, reverb, MP3).
- :mod:`percloss.embeddings` -- VGGish and OpenL3 with weight handling.
- :mod:`percloss.cdpam` -- the pretrained CDPAM network and its weights (extra ``percloss[cdpam]``); its
  distance and loss are :func:`percloss.losses.cdpam_distance` and :class:`percloss.losses.CDPAMLoss`.
- :mod:`percloss.data` -- the real clip set at any sample rate.
- :mod:`percloss.signal` -- small shared signal utilities (:func:`~percloss.signal.peak_normalize`) and the
  resamplers (:func:`~percloss.signal.resample_audio`, :func:`~percloss.signal.resample_differentiable`).
- :mod:`percloss.experiments` -- the code each chapter runs.
- :mod:`percloss.cli` -- ``python -m percloss threshold|nmr|weights|encode|decode|models|train-codec|eval-codec|ship-codec``.

``pip install percloss`` brings torch, numpy, scipy and soundfile: the losses, model 1, the
metrics and the filterbanks. The scorers, the codec's bitstream and anchors, the degradations,
OpenL3's Keras weights, CDPAM and the chapters need extras (``metrics``, ``codec``, ``degrade``,
``embeddings``, ``cdpam``, ``book``); a missing package's error names its extra
(:mod:`percloss._optional`).
"""

__version__ = "0.1.0"
