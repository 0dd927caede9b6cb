"""int8: `resnet-v2 quantize` (OpenVINO + NNCF), int8 model dirs through
eval / predict / features / export, and the refusals."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import cli
from resnet_v2 import model_dir as model_dir_lib
from resnet_v2 import record as record_lib
from resnet_v2.data import inputs
from resnet_v2.data import sources
from resnet_v2.nets import module as tf2
from resnet_v2.serve import openvino as openvino_engine
from resnet_v2.serve import quantize as quantization

pytest.importorskip('openvino')
pytest.importorskip('nncf')

MODEL, SIZE, CLASSES = 'cifar_resnet_v1_8', 16, ('dark', 'bright')


def write_images(root, per_class=10, size=SIZE, seed=0):
  """PNGs in class folders: class 1 is brighter."""
  rng = np.random.default_rng(seed)
  for label, name in enumerate(CLASSES):
    for index in range(per_class):
      image = rng.integers(0, 120, (size, size, 3)) + 120 * label
      path = root / name / ('%02d.png' % index)
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_bytes(tf.io.encode_png(image.astype(np.uint8)).numpy())
  return root


def write_model_dir(path):
  """A float model dir of MODEL (seeded random weights) as `train` leaves
  one."""
  tf.random.set_seed(0)
  module = tf2.ResNetModule(MODEL, len(CLASSES))
  prefix = checkpoint_files.save_by_name(module.variables_by_name,
                                    os.path.join(path, 'model.ckpt-1'))
  model_dir_lib.add_checkpoint(path, prefix)
  record_lib.Record(
      model=MODEL, num_classes=len(CLASSES), class_names=list(CLASSES),
      image_size=SIZE, preprocessing='cifar', labels_offset=0).write(path)
  return module


@pytest.fixture(scope='module')
def quantized(tmp_path_factory):
  """(float model dir, its module, image folder, int8 model dir, report)."""
  root = tmp_path_factory.mktemp('int8')
  images = write_images(root / 'images')
  float_dir = str(root / 'float')
  module = write_model_dir(float_dir)
  int8_dir = str(root / 'int8')
  report = quantization.quantize(
      int8_dir, quantization.open_calibration_data(str(images)),
      model_dir=float_dir, batch_size=8, log=open(os.devnull, 'w'))
  return float_dir, module, images, int8_dir, report


def test_int8_agrees_with_fp32_and_really_runs_in_int8(quantized):
  float_dir, module, images, int8_dir, report = quantized
  compared = report['int8_vs_fp32']
  assert report['calibration_images'] == 20
  assert compared['images'] == 20 and compared['labelled_images'] == 20
  # Stated tolerance: pooled features cosine >= 0.99 (the target),
  # probabilities within 0.1 of fp32's, the same top-1 class on >= 90%.
  assert compared['feature_cosine_min'] >= 0.99
  assert compared['max_probability_difference'] <= 0.1
  assert compared['top1_agreement'] >= 0.9
  # The compiled model's convolutions run in u8/i8: int8 really ran.
  runner = openvino_engine.Runner(model_dir_lib.openvino_dir(int8_dir),
                                  'int8')
  assert runner.effective_precision() == 'int8'
  assert set(runner.convolution_precisions()) <= {'u8', 'i8'}
  assert report['effective_precision'] == 'int8'
  # ... and the float conversion runs in fp32 (so the check can fail).
  float_runner = openvino_engine.Runner(openvino_engine.convert(module, SIZE))
  assert float_runner.effective_precision() == 'fp32'
  # Independently of the report: int8 against the TF net, on images through
  # the pipeline (as the net sees them).
  batch = next(inputs.make_dataset(inputs.open_source(str(images)), 'cifar',
                                   SIZE, 6).as_numpy_iterator())[0]
  logits, points = module(batch)
  out = runner(batch)
  a = points['global_pool'].numpy().reshape(6, -1)
  cosine = (a * out['features']).sum(1) / (
      np.linalg.norm(a, axis=1) * np.linalg.norm(out['features'], axis=1))
  assert cosine.min() >= 0.99
  np.testing.assert_allclose(out['probabilities'],
                             tf.nn.softmax(logits).numpy(), atol=0.1)
  record = record_lib.Record.read(int8_dir)
  assert (record.engine, record.precision) == ('openvino', 'int8')
  assert record.class_names == list(CLASSES)


def test_int8_model_dir_round_trips_eval_predict_features_export(
    quantized, tmp_path, capsys):
  float_dir, _, images, int8_dir, _ = quantized
  out = str(tmp_path / 'eval')
  assert cli.main(['eval', '--model-dir', int8_dir, '--data', str(images),
                   '--output', out]) == 0
  int8_metrics = json.loads(open(os.path.join(out, 'metrics.json')).read())
  assert int8_metrics['count'] == 20 and int8_metrics['precision'] == 'int8'
  assert cli.main(['eval', '--model-dir', float_dir, '--data', str(images),
                   '--output', str(tmp_path / 'eval32')]) == 0
  fp32_metrics = json.loads(open(str(tmp_path / 'eval32' / 'metrics.json')
                                 ).read())
  assert abs(int8_metrics['top1'] - fp32_metrics['top1']) <= 0.1
  assert fp32_metrics['precision'] == 'fp32'

  capsys.readouterr()
  image = str(images / 'bright' / '00.png')
  assert cli.main(['predict', '--model-dir', int8_dir, image]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == image and {l.split()[-1] for l in lines[1:]} == set(
      CLASSES)

  npz = str(tmp_path / 'f.npz')
  assert cli.main(['features', '--model-dir', int8_dir, str(images), '-o',
                   npz]) == 0
  assert cli.main(['features', '--model-dir', float_dir, str(images), '-o',
                   str(tmp_path / 'f32.npz')]) == 0
  int8_features, fp32_features = np.load(npz), np.load(str(tmp_path /
                                                            'f32.npz'))
  assert list(int8_features['file_names']) == list(
      fp32_features['file_names'])
  a = int8_features['global_pool'].reshape(20, -1)
  b = fp32_features['global_pool'].reshape(20, -1)
  assert a.shape == b.shape
  assert ((a * b).sum(1) / np.linalg.norm(a, axis=1) /
          np.linalg.norm(b, axis=1)).min() >= 0.99
  # Any end point: the int8 model holds them all, compiled when asked.
  block = 'cifar_resnet_v1_8/block1'
  for model_dir, name in ((int8_dir, 'b8.npz'), (float_dir, 'b32.npz')):
    assert cli.main(['features', '--model-dir', model_dir, str(images), '-o',
                     str(tmp_path / name), '--end-point', block]) == 0
  a = np.load(str(tmp_path / 'b8.npz'))[block].reshape(20, -1)
  b = np.load(str(tmp_path / 'b32.npz'))[block].reshape(20, -1)
  assert a.shape == b.shape and a.shape[1] > 64
  assert ((a * b).sum(1) / np.linalg.norm(a, axis=1) /
          np.linalg.norm(b, axis=1)).min() >= 0.99
  capsys.readouterr()
  assert cli.main(['features', '--model-dir', int8_dir, str(images), '-o',
                   npz, '--end-point', 'cifar_resnet_v1_8/block9']) == 1
  assert 'Unknown end_points' in capsys.readouterr().err

  exported = str(tmp_path / 'served')
  assert cli.main(['export', '--model-dir', int8_dir, '--output',
                   exported]) == 0
  batch = np.random.default_rng(1).uniform(-1, 1, (3, SIZE, SIZE, 3)).astype(
      np.float32)
  np.save(str(tmp_path / 'batch.npy'), batch)
  expected = openvino_engine.Runner(model_dir_lib.openvino_dir(int8_dir),
                                    'int8')(batch)
  # A fresh process with OpenVINO only (no resnet_v2) serves the export.
  script = '''if True:
      import sys
      sys.modules['resnet_v2'] = None
      import json, numpy as np, openvino as ov
      folder, batch = sys.argv[1], np.load(sys.argv[2])
      meta = json.load(open(folder + '/model.json'))
      compiled = ov.Core().compile_model(folder + '/model.xml', 'CPU',
                                         {'INFERENCE_PRECISION_HINT': 'f32'})
      out = compiled({'images': batch})
      np.savez(sys.argv[3], precision=meta['precision'], **{
          o.get_any_name(): out[o] for o in compiled.outputs})
  '''
  served = str(tmp_path / 'served.npz')
  subprocess.run([sys.executable, '-c', script, exported,
                  str(tmp_path / 'batch.npy'), served], check=True,
                 capture_output=True)
  result = np.load(served)
  assert str(result['precision']) == 'int8'
  assert sorted(result.files) == ['features', 'logits', 'precision',
                                  'probabilities']
  for name in ('logits', 'probabilities', 'features'):
    np.testing.assert_allclose(result[name], expected[name], atol=1e-5)
  # A SavedModel or ONNX of an int8 dir would be another precision: refused.
  for export_format in ('saved_model', 'onnx'):
    assert cli.main(['export', '--model-dir', int8_dir, '--output',
                     str(tmp_path / export_format), '--format',
                     export_format]) == 1
    assert '--format openvino only' in capsys.readouterr().err
    assert not os.path.exists(str(tmp_path / export_format))


def test_float_model_dir_exports_openvino_and_onnx_that_match_tensorflow(
    quantized, tmp_path):
  onnxruntime = pytest.importorskip('onnxruntime')
  pytest.importorskip('tf2onnx')
  float_dir, module, _, _, _ = quantized
  batch = np.random.default_rng(2).uniform(-1, 1, (4, SIZE, SIZE, 3)).astype(
      np.float32)
  logits, points = module(batch)
  features = points['global_pool'].numpy().reshape(4, -1)
  assert cli.main(['export', '--model-dir', float_dir, '--output',
                   str(tmp_path / 'ov'), '--format', 'openvino']) == 0
  out = openvino_engine.Runner(str(tmp_path / 'ov'))(batch)
  np.testing.assert_allclose(out['logits'], logits.numpy(), atol=1e-4)
  np.testing.assert_allclose(out['features'], features, atol=1e-4)
  assert cli.main(['export', '--model-dir', float_dir, '--output',
                   str(tmp_path / 'onnx'), '--format', 'onnx']) == 0
  session = onnxruntime.InferenceSession(str(tmp_path / 'onnx' /
                                             'model.onnx'))
  names = [o.name for o in session.get_outputs()]
  out = dict(zip(names, session.run(None, {'images': batch})))
  np.testing.assert_allclose(out['logits'], logits.numpy(), atol=1e-4)
  np.testing.assert_allclose(out['features'], features, atol=1e-4)
  record = json.loads((tmp_path / 'onnx' / 'model.json').read_text())
  assert (record['image_size'], record['preprocessing']) == (SIZE, 'cifar')


@pytest.mark.parametrize('make, message', [
    (lambda root: root.mkdir(), 'no calibration images'),
    (lambda root: [root.mkdir(), (root / 'a.png').write_bytes(b'not a png'),
                   (root / 'b.jpg').write_bytes(b'')], 'no readable image'),
    (lambda root: write_images(root, per_class=2, size=24),
     None),   # folders of any size are resized, as in training: accepted
])
def test_bad_calibration_data_is_one_error_and_writes_nothing(
    quantized, tmp_path, capsys, make, message):
  float_dir = quantized[0]
  data = tmp_path / 'calibration'
  make(data)
  output = tmp_path / 'out' / 'int8'
  code = cli.main(['quantize', '--model-dir', float_dir, '--calibration-data',
                   str(data), '--output', str(output)])
  if message is None:
    assert code == 0 and output.is_dir()
    return
  err = capsys.readouterr().err
  assert code == 1 and message in err and len(err.strip().splitlines()) == 1
  assert not output.exists()
  assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')


def test_calibration_images_of_another_fixed_size_are_refused(quantized,
                                                              tmp_path):
  float_dir = quantized[0]
  cifar_like = sources.arrays_source(
      np.zeros([4, 32, 32, 3], np.uint8), [0, 1, 0, 1], list(CLASSES))
  with pytest.raises(ValueError, match=r'32x32 images, but the net takes '
                     r'16x16'):
    quantization.quantize(str(tmp_path / 'int8'), cifar_like,
                          model_dir=float_dir)
  assert not os.listdir(tmp_path)
  with pytest.raises(ValueError, match='drop `image_size`=32'):
    quantization.quantize(str(tmp_path / 'int8'), cifar_like,
                          model_dir=float_dir, image_size=32)


def test_quantize_refuses_an_int8_dir_and_a_foreign_output(quantized,
                                                           tmp_path):
  _, _, images, int8_dir, _ = quantized
  source = quantization.open_calibration_data(str(images))
  with pytest.raises(ValueError, match='already an int8 model dir'):
    quantization.quantize(str(tmp_path / 'x'), source, model_dir=int8_dir)
  (tmp_path / 'mine').mkdir()
  (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
  with pytest.raises(ValueError, match='not written by resnet_v2.*`overwrite`'):
    quantization.quantize(str(tmp_path / 'mine'), source,
                          model_dir=quantized[0])
  assert (tmp_path / 'mine' / 'notes.txt').read_text() == 'keep me'
  # Training into an int8 dir is another run, refused by the record check.
  with pytest.raises(ValueError, match="engine: 'openvino'"):
    record_lib.check_same_run(
        record_lib.Record.read(int8_dir),
        record_lib.Record.read(quantized[0]), int8_dir)


def test_without_openvino_the_commands_say_what_to_install(
    quantized, tmp_path, capsys, monkeypatch):
  float_dir, _, images, _, _ = quantized
  monkeypatch.setitem(sys.modules, 'nncf', None)
  assert cli.main(['quantize', '--model-dir', float_dir, '--calibration-data',
                   str(images), '--output', str(tmp_path / 'q')]) == 1
  err = capsys.readouterr().err.strip()
  assert err.splitlines() == [
      "resnet-v2 quantize: error: int8 and OpenVINO need the optional "
      "package nncf, which is not installed: pip install "
      "'resnet_v2[int8]'"]
  monkeypatch.setitem(sys.modules, 'openvino', None)
  assert cli.main(['export', '--model-dir', float_dir, '--output',
                   str(tmp_path / 'e'), '--format', 'openvino']) == 1
  assert "pip install 'resnet_v2[int8]'" in capsys.readouterr().err
  assert not (tmp_path / 'e').exists()


def test_a_checkpoint_with_model_name_quantizes_like_a_model_dir(quantized,
                                                                 tmp_path,
                                                                 capsys):
  float_dir, _, images, _, _ = quantized
  checkpoint = record_lib.Record.from_model_dir(float_dir).checkpoint()
  output = str(tmp_path / 'int8')
  assert cli.main(['quantize', '--model', MODEL, '--checkpoint', checkpoint,
                   '--image-size', str(SIZE), '--calibration-data',
                   str(images), '--calibration-images', '8', '--output',
                   output]) == 0
  assert 'pooled-feature cosine' in capsys.readouterr().out
  record = record_lib.Record.read(output)
  assert (record.model, record.num_classes, record.image_size,
          record.engine, record.labels_offset) == (MODEL, 2, SIZE,
                                                   'openvino', 0)
  report = json.loads((tmp_path / 'int8' / 'quantization.json').read_text())
  assert report['source_checkpoint'] == checkpoint
  assert report['calibration_images'] == 8


def test_an_int8_model_dir_refuses_another_image_size(quantized, capsys):
  _, _, images, int8_dir, _ = quantized
  for command in (['eval', '--model-dir', int8_dir, '--data', str(images)],
                  ['predict', '--model-dir', int8_dir,
                   str(images / 'dark' / '00.png')]):
    assert cli.main(command + ['--image-size', '32']) == 1
    assert 'is an int8 model for 16x16 images; drop --image-size 32' in (
        capsys.readouterr().err)
