"""Text for text-to-image GANs: caption tokenizer and text encoder."""
