"""Melody screening: which known works' tunes does a track quote, and where.

score bytes --symbolic--> Melody <--audio-- PCM (salience, Viterbi contour, notes, beats)
Melody --represent--> ornament-reduced notes, unit-normalised pitch windows, interval-pattern weights
windows --index (FAISS)--> candidate works with tempo/transposition/offset hypotheses
candidates --align (local Mongeau-Sankoff)--> aligned notes --score (calibrated null)--> MelodyMatch
"""
