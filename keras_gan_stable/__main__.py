"""`python -m keras_gan_stable ...` runs the `keras-gan-stable` command."""

from keras_gan_stable.cli import main

if __name__ == "__main__":
    main()
