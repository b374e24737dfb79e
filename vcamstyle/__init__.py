"""vcamstyle: a live style-transfer virtual camera.

The daemon reads the physical webcam, segments the person, renders the person and the background
with independent effects (artistic style, blur, colour, image) and publishes the result as a virtual
camera. See ``vcamstyle.service`` for the run loop and ``vcamstyle.pipeline.core`` for the pure core.
"""

__version__ = "0.1.0"
