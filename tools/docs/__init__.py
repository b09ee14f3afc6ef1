"""The tables of the docs that are generated from the code (``make docs``, run by ``make proto``).

Each table sits between two marker comments in its Markdown file::

    <!-- generated: NAME -->
    ...
    <!-- end generated -->

and is rewritten from its source; the prose around it stays hand-written.
``tests/test_docs_generated.py`` fails when a committed doc differs from what
the generator writes.
"""
