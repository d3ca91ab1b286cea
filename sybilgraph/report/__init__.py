"""The weekly batch job: a run over the week, compared with last week's in a state
folder, with clusters tracked from week to week under persistent ids."""
