"""`digest preview ID`: one paper's section as a post would show it; results go to the cache, nothing else."""

from __future__ import annotations

from digest.core.config import Config
from digest.core.errors import DigestError
from digest.core.services import Services
from digest.core.templates import template_env
from digest.enrich.engine import EnrichOptions, enrich, model_for
from digest.enrich.model import run_with
from digest.enrich.plan import entry_from_paper
from digest.fetch.client import arxiv_client
from digest.publish.markdown import render_section


def preview(cfg: Config, arxiv_id: str, services: Services, *, no_pdf: bool = False) -> str:
    """One paper's section as a post would show it; results go to the cache, no post or record is written."""
    with arxiv_client(cfg, services) as client:
        papers = client.by_ids([arxiv_id])
    if not papers:
        raise DigestError(f"arXiv knows no paper {arxiv_id} (check the id; new papers appear after their mailing)")
    entry = entry_from_paper(papers[0], cfg)
    model = model_for(cfg, services)
    env = template_env(cfg.templates_dir)
    if model is None:
        services.reporter.warn(
            f"no API key in ${cfg.llm.api_key_env}: showing the English abstract only; set the variable for the rest"
        )
    else:
        run_with(model, enrich(cfg, services, [entry], model, env, EnrichOptions(deep=not no_pdf)))
    return render_section(entry, env)
