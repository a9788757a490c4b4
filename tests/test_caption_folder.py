"""The captioned image folder reader (CUB / COCO layout after extraction)."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_gan_stable.data import DataError
from keras_gan_stable.data.caption_folder import load_caption_folder


def _image(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.zeros((6, 6, 3), "uint8")
    arr[..., 0] = value
    Image.fromarray(arr).save(path)


def _text(path, body):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(body)


def test_captions_beside_images(tmp_path):
    _image(str(tmp_path / "a.png"), 0)
    _text(str(tmp_path / "a.txt"), "a red bird\n\n  a small bird  \n")
    _image(str(tmp_path / "sub" / "b.png"), 255)
    _text(str(tmp_path / "sub" / "b.txt"), "one caption")
    images, captions = load_caption_folder(str(tmp_path))
    assert images.shape == (2, 6, 6, 3) and images.dtype == np.float32
    # uint8 v -> v / 127.5 - 1
    np.testing.assert_allclose(images[:, 0, 0, 0], [-1.0, 1.0])
    assert captions == [["a red bird", "a small bird"], ["one caption"]]
    images, captions = load_caption_folder(str(tmp_path), image_size=4,
                                           max_samples=1)
    assert images.shape == (1, 4, 4, 3) and captions == [["a red bird",
                                                          "a small bird"]]


def test_cub_layout_with_a_text_tree(tmp_path):
    _image(str(tmp_path / "images" / "001.Albatross" / "x_0001.jpg"), 128)
    _text(str(tmp_path / "text" / "001.Albatross" / "x_0001.txt"),
          "this bird has a white belly\nthe bird is large\n")
    _, captions = load_caption_folder(str(tmp_path / "images"),
                                      text_folder=str(tmp_path / "text"))
    assert captions == [["this bird has a white belly", "the bird is large"]]


def _assert_one_line_error(fn, *fragments):
    with pytest.raises(DataError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_and_empty_caption_files(tmp_path):
    _image(str(tmp_path / "a.png"), 0)
    missing = str(tmp_path / "a.txt")
    _assert_one_line_error(lambda: load_caption_folder(str(tmp_path)),
                    "No caption file", missing, "one caption per line")
    _text(missing, "\n   \n")
    _assert_one_line_error(lambda: load_caption_folder(str(tmp_path)),
                    "holds no caption", missing)
    with open(missing, "wb") as f:
        f.write(b"caf\xe9\n")
    _assert_one_line_error(lambda: load_caption_folder(str(tmp_path)),
                    "not UTF-8", missing)
    nowhere = str(tmp_path / "t")
    _assert_one_line_error(lambda: load_caption_folder(str(tmp_path),
                                                text_folder=nowhere),
                    "Caption folder", "does not exist")
    _assert_one_line_error(lambda: load_caption_folder(str(tmp_path / "nope")),
                    "does not exist")
    _assert_one_line_error(lambda: load_caption_folder(str(tmp_path), max_samples=0),
                    "max_samples=0")
