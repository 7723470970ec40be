"""GAN families beyond the plain GAN, each a :class:`jaxgan.system.System` builder with its own loss terms.

One module per family (``acgan``, ``infogan``, ``bigan``, ``pix2pix``, ``cyclegan``, ``stargan``): the loss terms
as pure functions with their formula and paper in the docstring, and a function that returns the family's
``System`` from networks and optimizers. The plain GAN is :func:`jaxgan.plain_gan.gan`.
"""
