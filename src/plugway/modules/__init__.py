"""Modules that ship with plugway, built only from the public API of the layers below."""
