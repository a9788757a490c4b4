"""Evaluation metrics of generative models and their feature extractors."""

from keras_gan_stable.metrics.attributes import attribute_accuracy
from keras_gan_stable.metrics.attributes import attribute_classifier
from keras_gan_stable.metrics.attributes import train_attribute_classifier
from keras_gan_stable.metrics.class_coverage import class_coverage
from keras_gan_stable.metrics.extractors import ClassifierExtractor
from keras_gan_stable.metrics.extractors import FeatureExtractor
from keras_gan_stable.metrics.extractors import InceptionExtractor
from keras_gan_stable.metrics.extractors import get_extractor
from keras_gan_stable.metrics.evaluate import Evaluator
from keras_gan_stable.metrics.evaluate import ImageSource
from keras_gan_stable.metrics.evaluate import evaluate
from keras_gan_stable.metrics.feature_classifier import feature_classifier
from keras_gan_stable.metrics.feature_classifier import train_feature_classifier
from keras_gan_stable.metrics.frechet import frechet_distance
from keras_gan_stable.metrics.frechet import frechet_distance_from_features
from keras_gan_stable.metrics.frechet import trace_sqrt_product
from keras_gan_stable.metrics.inception_score import inception_score
from keras_gan_stable.metrics.kid import KIDResult
from keras_gan_stable.metrics.kid import kernel_inception_distance
from keras_gan_stable.metrics.kid import mmd2_unbiased
from keras_gan_stable.metrics.kid import polynomial_kernel
from keras_gan_stable.metrics.mode_coverage import ModeCoverage
from keras_gan_stable.metrics.mode_coverage import mode_coverage
from keras_gan_stable.metrics.mode_coverage import stacked_labels
from keras_gan_stable.metrics.precision_recall import knn_radii
from keras_gan_stable.metrics.precision_recall import precision_recall
from keras_gan_stable.metrics.r_precision import encoder_r_precision
from keras_gan_stable.metrics.r_precision import r_precision
from keras_gan_stable.metrics.streaming import FeatureStatistics
from keras_gan_stable.metrics.streaming import FeatureStore

__all__ = [
    "ClassifierExtractor",
    "class_coverage",
    "Evaluator",
    "FeatureExtractor",
    "FeatureStatistics",
    "FeatureStore",
    "ImageSource",
    "InceptionExtractor",
    "KIDResult",
    "ModeCoverage",
    "feature_classifier",
    "frechet_distance",
    "frechet_distance_from_features",
    "evaluate",
    "get_extractor",
    "inception_score",
    "kernel_inception_distance",
    "knn_radii",
    "mmd2_unbiased",
    "mode_coverage",
    "polynomial_kernel",
    "precision_recall",
    "stacked_labels",
    "trace_sqrt_product",
    "train_feature_classifier",
    "attribute_accuracy",
    "attribute_classifier",
    "train_attribute_classifier",
    "encoder_r_precision",
    "r_precision",
]
