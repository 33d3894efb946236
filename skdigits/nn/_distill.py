"""Knowledge distillation: train a small net on a fitted teacher's soft targets.

Hinton, Vinyals and Dean (2015): the student minimises

    (1 - alpha) * CE(labels, student) + alpha * T^2 * KL(teacher_T || student_T)

where ``net_T = softmax(logits / T)``. The teacher here is *consistent*: on every
training batch it labels exactly the augmented images the student sees (the
student's augmentation layers run once, and both nets read their output), so the
soft targets match the student's inputs however strong the augmentation.

:class:`~skdigits.estimator.DigitClassifier` uses this module through its ``teacher``,
``distill_temperature`` and ``distill_alpha`` parameters; the Keras wrapper lives
only for the duration of ``fit``, so the fitted estimator holds, saves and
exports the student alone.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ._tf import import_keras

keras = import_keras(feature="distillation")

import tensorflow as tf  # noqa: E402

from ._ensemble import FitWrapper, is_ensemble, training_with  # noqa: E402


def _logits(net: Any, x: Any, *, training: bool) -> tuple[Any, Any]:
    """Run a skdigits Sequential layer by layer: (its augmented images, its output logits).

    The images are the output of the last ``augment_*`` layer (the input when
    there is none); the logits are the output layer's affine map, before its
    activation, so a temperature can divide them. An ensemble's logits are the
    log of its averaged probabilities.
    """
    if is_ensemble(net):  # a teacher only: its averaged probabilities, as logits
        return x, keras.ops.log(keras.ops.maximum(net(x, training=training), 1e-12))
    *body, output = net.layers
    h, images = x, x
    for layer in body:
        h = layer(h, training=training)
        if layer.name.startswith("augment_"):
            images = h
    logits = keras.ops.matmul(h, output.kernel)
    if output.use_bias:
        logits = logits + output.bias
    return images, logits


class Distiller(FitWrapper):
    """Keras model that trains ``student`` towards ``teacher``'s soft targets.

    It predicts what the student predicts; only the student's weights train. Used
    by ``DigitClassifier.fit`` and discarded afterwards, so it is never saved.
    """

    def __init__(self, student: Any, teacher: Any, temperature: float, alpha: float) -> None:
        super().__init__(name="distiller")
        self.student, self.teacher = student, teacher
        self.teacher.trainable = False
        self.temperature, self.alpha = float(temperature), float(alpha)

    @property
    def inner(self) -> Any:
        return self.student

    def train_step(self, data: Any) -> Any:
        x, y, sample_weight = data = keras.utils.unpack_x_y_sample_weight(data)
        teacher_input_shape = tuple(self.teacher.inputs[0].shape[1:])
        with tf.GradientTape() as tape:
            images, student_logits = _logits(self.student, x, training=True)
            teacher_x = keras.ops.reshape(images, (-1, *teacher_input_shape))
            _, teacher_logits = _logits(self.teacher, teacher_x, training=False)
            teacher_logits = keras.ops.stop_gradient(teacher_logits)
            y_pred = self.student.layers[-1].activation(student_logits)
            hard = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
            t = self.temperature
            soft_targets = keras.ops.softmax(teacher_logits / t, axis=-1)
            log_student = keras.ops.log_softmax(student_logits / t, axis=-1)
            log_targets = keras.ops.log_softmax(teacher_logits / t, axis=-1)
            kl = keras.ops.sum(soft_targets * (log_targets - log_student), axis=-1)
            soft = keras.ops.mean(kl) * (t * t)
            loss = (1.0 - self.alpha) * hard + self.alpha * soft
        return self.finish_step(tape, loss, data, y_pred)


def distilling(student: Any) -> contextlib.AbstractContextManager[None]:
    """Within the block, ``student.model_`` is a :class:`Distiller` of it and its ``teacher_``.

    SciKeras' fit then trains the wrapper, which runs both nets on the same
    augmented batch; afterwards ``model_`` is the student's net again.
    """
    distiller = Distiller(
        student.model_,
        student.teacher_.model_,
        temperature=float(student.distill_temperature),
        alpha=float(student.distill_alpha),
    )
    return training_with(student, distiller)
