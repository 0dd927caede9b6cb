"""resnet_v2: TF-Slim's ResNet v2 for current TensorFlow."""

import setuptools

setuptools.setup(
    name='resnet_v2',
    version='0.1.0',
    description=('TF-Slim-style ResNet v2 (full pre-activation) networks that '
                 'work on current TensorFlow; a drop-in for '
                 'tf_slim.nets.resnet_v2.'),
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=setuptools.find_packages(include=['resnet_v2', 'resnet_v2.*']),
    package_data={'resnet_v2.data': ['*.txt']},
    entry_points={'console_scripts': ['resnet-v2 = resnet_v2.cli:main']},
    python_requires='>=3.10',
    # TensorFlow 2.16 is the first release with Keras 3 and no tf-keras
    # dependency; tf-slim 1.1.0 is the last release. Neither needs tf-keras.
    install_requires=[
        'tensorflow>=2.16',
        'tf-slim>=1.1.0',
        'numpy>=1.23',
        # Features folders: Parquet metadata beside the .npy shards.
        'pyarrow>=14',
    ],
    # int8: OpenVINO runs the quantized nets and NNCF quantizes them (the
    # fastest int8 engine measured here, BENCHMARKS.md); onnx: tf2onnx
    # converts for `export --format onnx`, ONNX Runtime runs it (and is a
    # benchmark comparator); ray: features on a Ray cluster. The tests
    # exercise all three.
    extras_require={
        'test': ['pytest>=7', 'pytest-xdist>=3', 'matplotlib', 'scikit-learn',
                 'openvino>=2025.0', 'nncf>=2.16', 'tf2onnx>=1.17',
                 'onnxruntime>=1.20', 'ray[data]>=2.40', 'pandas', 'faiss-cpu',
                 'fastapi', 'uvicorn', 'prometheus-client', 'httpx',
                 # The browser test of clip-retrieval's front (which also
                 # needs Chromium and the front: .ci/run fetches them).
                 'playwright',
                 # `serve --ray`'s test.
                 'ray[serve]>=2.40'],
        # Features on a cluster (`resnet-v2 features --ray`): Ray Data.
        'ray': ['ray[data]>=2.40'],
        # index, search, dedup and probe of features folders: FAISS,
        # scikit-learn's logistic regression (scipy's connected components
        # come with it).
        'search': ['faiss-cpu', 'scikit-learn'],
        # resnet-v2 serve: FastAPI on uvicorn, Prometheus metrics.
        'serve': ['faiss-cpu', 'fastapi', 'uvicorn', 'prometheus-client'],
        # resnet-v2 serve --ray: the same service on Ray Serve.
        'ray-serve': ['faiss-cpu', 'fastapi', 'uvicorn', 'prometheus-client',
                      'ray[serve]>=2.40'],
        'examples': ['scikit-learn'],
        'plot': ['matplotlib'],
        'int8': ['openvino>=2025.0', 'nncf>=2.16'],
        'onnx': ['tf2onnx>=1.17', 'onnxruntime>=1.20'],
    },
)
