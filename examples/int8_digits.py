"""int8 against fp32 on a net trained here, offline.

scikit-learn's bundled digits, upsampled (default 64x64): a net (default
resnet_v2_50) is trained from scratch by `resnet-v2 train`'s Trainer on 80%
of them, quantized by `resnet-v2 quantize`'s code (OpenVINO + NNCF)
calibrated on --calibration-images training images, and both model dirs
are evaluated on the held-out 20% through `resnet-v2 eval`'s code. The
model dirs go to a temporary folder (or --work DIR, kept). Writes

  OUT/results.json   top-1 of fp32 and int8, the quantization report
                     (pooled-feature cosine, agreement), settings

  python -m examples.int8_digits --out experiments/int8
"""

import argparse
import os
import sys
import tempfile

from examples import degradation
from resnet_v2 import files
from resnet_v2.serve import evaluate as evaluation
from resnet_v2.serve import quantize as quantization
from resnet_v2.train import trainer as training


def run(model='resnet_v2_50', image_size=64, epochs=6, batch_size=32,
        calibration_images=300, out=None, work=None, log=print):
  """Trains, quantizes and evaluates; returns the results dict."""
  train, test = degradation.digits_dataset(image_size)
  work = work or tempfile.mkdtemp(prefix='int8_digits_')
  float_dir = os.path.join(work, 'fp32')
  int8_dir = os.path.join(work, 'int8')
  config = training.TrainConfig(
      model=model, image_size=image_size, epochs=epochs,
      batch_size=batch_size, optimizer='adam', learning_rate=1e-3,
      schedule='cosine', augment=False, seed=0)
  training.Trainer(train, test, float_dir, config).train(progress=False,
                                                        log=log)
  report = quantization.quantize(
      int8_dir, train, model_dir=float_dir, val_source=test,
      num_images=calibration_images, batch_size=batch_size)
  log(quantization.summary(report))
  metrics = {name: evaluation.evaluate(test, folder, batch_size=batch_size)
             for name, folder in (('fp32', float_dir), ('int8', int8_dir))}
  results = {
      'model': model, 'image_size': image_size, 'epochs': epochs,
      'train_images': len(train.items), 'test_images': len(test.items),
      'calibration_images': report['calibration_images'],
      'top1_fp32': metrics['fp32']['top1'],
      'top1_int8': metrics['int8']['top1'],
      'top1_drop_points': 100 * (metrics['fp32']['top1'] -
                                 metrics['int8']['top1']),
      'quantization': report,
  }
  log('top-1 on %d held-out digits: fp32 %.4f, int8 %.4f (%.2f points); '
      'pooled-feature cosine mean %.4f, min %.4f' % (
          results['test_images'], results['top1_fp32'], results['top1_int8'],
          results['top1_drop_points'],
          report['int8_vs_fp32']['feature_cosine_mean'],
          report['int8_vs_fp32']['feature_cosine_min']))
  if out:
    os.makedirs(out, exist_ok=True)
    files.write_json(os.path.join(out, 'results.json'), results, indent=1)
  return results


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--model', default='resnet_v2_50')
  parser.add_argument('--image-size', type=int, default=64)
  parser.add_argument('--epochs', type=int, default=6)
  parser.add_argument('--calibration-images', type=int, default=300)
  parser.add_argument('--out', help='folder for results.json')
  parser.add_argument('--work', help='folder for the two model dirs '
                      '(default: a temporary one)')
  args = parser.parse_args(argv)
  run(args.model, args.image_size, args.epochs,
      calibration_images=args.calibration_images, out=args.out,
      work=args.work, log=lambda line: print(line, flush=True))
  return 0


if __name__ == '__main__':
  sys.exit(main())
