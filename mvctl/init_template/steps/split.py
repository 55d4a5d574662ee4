"""Split the iris data shipped with scikit-learn into train and test arrays for `fit`."""

import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from mvctl import step

settings = step.params()
features, labels = load_iris(return_X_y=True)
parts = train_test_split(
    features, labels, test_size=settings["test_size"], random_state=settings["seed"]
)
np.savez(
    step.output("train.npz"), X_train=parts[0], X_test=parts[1], y_train=parts[2], y_test=parts[3]
)
