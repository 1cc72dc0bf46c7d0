"""The CNN, model folders, inference, saliency, training. torch is imported lazily, inside functions."""
