"""jaxgan: a functional GAN framework for JAX."""
