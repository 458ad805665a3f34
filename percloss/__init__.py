"""percloss: perceptual loss functions for audio in PyTorch.

Submodules (imported on demand, so ``import percloss`` stays cheap):

- :mod:`percloss.filterbank` -- Bark/mel/ERB scales and FIR filterbanks.
- :mod:`percloss.weighting` -- frequency weightings (A-weighting).
- :mod:`percloss.losses` -- MSE, multi-resolution STFT and perceptual losses.
- :mod:`percloss.masking` -- MPEG-1 psychoacoustic model 1.
- :mod:`percloss.metrics` -- SNR, log-spectral distance, PESQ, STOI, NMR.
- :mod:`percloss.degrade` -- the degradation suite.
- :mod:`percloss.codec` -- the neural audio codec and its bitstream.
- :mod:`percloss.data` -- the real clip set at any sample rate.
- :mod:`percloss.experiments` -- the code each chapter runs.
"""

__version__ = "0.1.0"
