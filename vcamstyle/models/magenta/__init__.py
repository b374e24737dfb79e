"""The offline default stylizer: Magenta's arbitrary style network (Ghiasi et al. 2017).

- ``stylizer``: the registered ``magenta`` stylizer (style vectors, region streams, compute choices).
- ``transformer``: the transformer network as a torch module; ``norms``: its per-stream instance norms.
- ``ort``: the transformer exported to ONNX and run by onnxruntime (the float32 CPU path).
- ``onnx_weights``: int8 weights of the shipped ONNX graphs turned into float32.
- ``subpixel``: exact rewrites of full-resolution convolutions on 2x2 pixel phases.

Internal to ``vcamstyle.models``: other packages use the registry (``vcamstyle.models``).
"""
