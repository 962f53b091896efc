"""What to send to re-run a filed image on the user's own generator, from the
record its detection found: pure request builders, no network.

 - overrides.py: the values `alice vary` may change, checked, and seed ranges;
 - comfy.py: a ComfyUI file's own API graph with overrides written at the
   node inputs the graph walk located, and the input images it names;
 - a1111.py: an A1111 txt2img/img2img payload from a Generation record.
"""
