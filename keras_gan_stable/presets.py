"""Former name of `keras_gan_stable.recipes` (kept so old imports work)."""

import sys

from keras_gan_stable import recipes as _recipes

sys.modules[__name__] = _recipes
