"""What executes model graphs: a TFLite flatbuffer replayed as a torch module (``tflite_reader``,
``tflite_graph``, ``tflite_layers``) and ONNX export plus onnxruntime sessions (``onnx_export``).

Internal to ``vcamstyle.models``.
"""
