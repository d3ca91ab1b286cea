"""What a person sees of a run: the tables behind each cluster's view, the HTML pages
(Jinja templates under ``templates/``), graph files for Gephi, and inline plots."""
