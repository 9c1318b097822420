"""Examples by (seed, step): TFDS sources, the offline MNIST, paired and super-resolution data."""
