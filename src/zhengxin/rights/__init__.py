"""The person's own rights: self-query (CR-17), who accessed their data, a copy of everything
held (PIPL-45), each answered from the same stores the lenders' products use."""
