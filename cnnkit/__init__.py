"""Helpers for the CNN-from-scratch notebooks: checks, numerical gradients, figures and data.

Notation used everywhere: arrays are NCHW (batch N, channels C, height H, width W), F filters,
filter size k, stride s, and H_out = (H - k) // s + 1.
"""
