"""DCGAN on scikit-learn's bundled 8x8 digits resized to 28x28: the embedded default that needs no download.

Command: ``jaxgan train --config dcgan_digits``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = (
    "1,500 steps in 5.6 min (336 s, beside two other jobs) on the project's 2-core CPU (AMD EPYC VM, "
    "2026-11-24): 13.3 % of 2,000 EMA samples classified with confidence > 0.9, predicted-class entropy "
    "0.908 * log 10; the digit classifier trained on these 1,797 images (15 % held out): 99.3 % accurate but "
    "confident on only 85.6 % of the held-out real digits (the upscaled 8x8 images are blurry), so read the "
    "samples' figure against that. A smoke-sized run: the recipe is not tuned for this data."
)


def get_config():
    return image_config(
        "dcgan_digits",
        data="digits",
        model_kwargs={"generator": {"base_features": 32},
                      "discriminator": {"base_features": 32}},
        steps=1500,
    )
