"""Data sources: tf.data and NumPy loaders, local readers, 2D mixtures."""

from keras_gan_stable.data.folder_array import FolderImages
from keras_gan_stable.data.image_folder_dataset import ImageFolderDataset
from keras_gan_stable.data.loaders import DataError
from keras_gan_stable.data.loaders import load_arrays
from keras_gan_stable.data.loaders import load_dataset
from keras_gan_stable.data.mixtures import mixture_modes
from keras_gan_stable.data.mixtures import sample_mixture

__all__ = ["DataError", "FolderImages", "ImageFolderDataset", "load_arrays", "load_dataset",
           "mixture_modes",
           "sample_mixture"]
