"""How good are the features: a linear probe and a k-NN probe.

- Logistic: CLIP's protocol. An L2-regularised multinomial logistic
  regression (scikit-learn, L-BFGS) on standardised vectors; its strength
  C is swept on a validation split of the training folder (a grid of
  powers of ten, then the two midpoints around the best), then it is fit
  on the whole training folder and scored once on the test folder.
- k-NN: DINO's weighted k-NN (k = 20, temperature 0.07): the test vector's
  k most cosine-similar training vectors vote for their class with weight
  exp(similarity / T) (exact search, FAISS).

Labels come from the folders' metadata (IDX, CIFAR, TFRecord or labelled
tar inputs); end points are read as `vectors` does (averaged over the
feature map).
"""

import numpy as np

from resnet_v2.search import vectors as vectors_lib

METHODS = ('logistic', 'knn')
KNN_K, KNN_TEMPERATURE = 20, 0.07
VALIDATION_FRACTION = 0.1
C_GRID = tuple(10.0 ** p for p in range(-4, 3))


def labelled(folder, name):
  """(vectors, labels) of every image of a folder at an end point.

  Raises:
    ValueError: if some images have no label.
  """
  manifest = vectors_lib.open_folder(folder)
  shards = manifest['complete_shards']
  _, labels = vectors_lib.metadata(folder, shards)
  if (labels < 0).any():
    raise ValueError('%d of the %d images in %s have no label; a probe needs '
                     'labelled features (an IDX, CIFAR-10, TFRecord or '
                     'labelled tar input).' % ((labels < 0).sum(),
                                               len(labels), folder))
  return vectors_lib.read_all(folder, name, shards), labels


def _logistic(c, seed):
  # pylint: disable=g-import-not-at-top
  from sklearn.linear_model import LogisticRegression
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler
  return make_pipeline(StandardScaler(), LogisticRegression(
      C=c, max_iter=1000, random_state=seed))


def logistic(train, train_labels, test, test_labels, seed=0):
  """{'top1', 'C', 'validation_top1'} of the linear probe."""
  rng = np.random.default_rng(seed)
  order = rng.permutation(len(train))
  held = max(1, int(len(train) * VALIDATION_FRACTION))
  val, fit = order[:held], order[held:]

  def score(c):
    model = _logistic(c, seed).fit(train[fit], train_labels[fit])
    return float((model.predict(train[val]) == train_labels[val]).mean())

  tried = {c: score(c) for c in C_GRID}
  best = max(tried, key=lambda c: (tried[c], -c))
  for c in (best / np.sqrt(10), best * np.sqrt(10)):
    tried[c] = score(c)
  best = max(tried, key=lambda c: (tried[c], -c))
  model = _logistic(best, seed).fit(train, train_labels)
  return {'top1': float((model.predict(test) == test_labels).mean()),
          'C': float(best), 'validation_top1': tried[best]}


def knn(train, train_labels, test, test_labels, k=KNN_K,
        temperature=KNN_TEMPERATURE, batch=1024):
  """{'top1', 'k', 'temperature'} of DINO's weighted k-NN."""
  from resnet_v2.search import index as index_lib  # pylint: disable=g-import-not-at-top
  faiss = index_lib.faiss_module()
  train = vectors_lib.normalized(train)
  search = faiss.IndexFlatIP(train.shape[1])
  search.add(np.ascontiguousarray(train, np.float32))
  classes = int(max(train_labels.max(), test_labels.max())) + 1
  k = min(k, len(train))
  correct = 0
  for start in range(0, len(test), batch):
    queries = vectors_lib.normalized(test[start:start + batch])
    similarities, ids = search.search(np.ascontiguousarray(queries), k)
    votes = np.zeros([len(queries), classes])
    np.add.at(votes, (np.arange(len(queries))[:, None], train_labels[ids]),
              np.exp(similarities / temperature))
    correct += int((votes.argmax(1) ==
                    test_labels[start:start + batch]).sum())
  return {'top1': correct / len(test), 'k': k, 'temperature': temperature}


def probe(train_folder, test_folder, end_points=None, methods=METHODS,
          seed=0):
  """Top-1 of each probe at each end point.

  Args:
    train_folder, test_folder: Features folders of one net (labelled).
    end_points: Names; default every end point the folders hold.
    methods: Of METHODS.

  Returns:
    {end point: {method: {'top1': ..., ...}}}.

  Raises:
    ValueError: on folders of different nets, unlabelled images, or an
      unknown method or end point.
  """
  unknown = sorted(set(methods) - set(METHODS))
  if unknown:
    raise ValueError('unknown probe %s; give %s.' % (', '.join(unknown),
                                                     ' or '.join(METHODS)))
  train_manifest = vectors_lib.open_folder(train_folder)
  test_manifest = vectors_lib.open_folder(test_folder)
  names = [vectors_lib.end_point(train_manifest, n) for n in (
      end_points or list(train_manifest['end_points']))]
  results = {}
  for name in names:
    vectors_lib.check_comparable(train_manifest, test_manifest, name,
                                 test_folder)
    train, train_labels = labelled(train_folder, name)
    test, test_labels = labelled(test_folder, name)
    runs = {'logistic': logistic, 'knn': knn}
    results[name] = {
        method: (runs[method](train, train_labels, test, test_labels, seed)
                 if method == 'logistic' else
                 runs[method](train, train_labels, test, test_labels))
        for method in methods}
  return results
