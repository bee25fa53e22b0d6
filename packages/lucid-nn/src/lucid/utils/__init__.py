"""``lucid.utils``: PyTorch's ``torch.utils`` counterparts (``lucid.utils.data``)."""
