# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Placeholder
# Math $z = 6\,\mathrm{asinh}(f/600)$.

# %%
import numpy as np
import ipywidgets as widgets
from IPython.display import Audio, display
display(Audio(np.sin(np.arange(8000) * 0.1), rate=8000, normalize=False))
w = widgets.IntSlider(value=3, min=0, max=10, description="n")
display(w)
