#!/usr/bin/env Rscript
# Reference values for the stats module from base R (R 4.2.2): t.test, wilcox.test, lm,
# cor.test, quantile(type = 7), p.adjust, and the distribution functions.
# Run from the repository root:  Rscript tests/reference/stats_paired.R
# Writes tests/golden/stats/{paired_R.tsv, dist_R.tsv, padjust_R.tsv}.
options(digits = 17, warn = -1)
src <- paste("R", paste(R.version$major, R.version$minor, sep = "."))
dat <- read.delim("tests/golden/stats/paired_data.tsv", comment.char = "#",
                  colClasses = c("character", "integer", "numeric", "numeric"))
out <- list()
put <- function(ds, stat, value, how) {
  out[[length(out) + 1]] <<- data.frame(dataset = ds, stat = stat,
                                        value = sprintf("%.17g", value),
                                        source = paste(src, how))
}
for (ds in unique(dat$dataset)) {
  a <- dat$a[dat$dataset == ds]
  b <- dat$b[dat$dataset == ds]
  n <- length(a)
  # descriptive statistics of a
  put(ds, "desc.mean", mean(a), "mean")
  put(ds, "desc.sd", sd(a), "sd")
  put(ds, "desc.median", median(a), "median")
  put(ds, "desc.q1", quantile(a, 0.25, type = 7), "quantile type 7")
  put(ds, "desc.q3", quantile(a, 0.75, type = 7), "quantile type 7")
  put(ds, "desc.min", min(a), "min")
  put(ds, "desc.max", max(a), "max")
  ci <- t.test(a)$conf.int
  put(ds, "desc.ci_low", ci[1], "t.test(a)$conf.int")
  put(ds, "desc.ci_high", ci[2], "t.test(a)$conf.int")
  # paired t-test of a - b
  tt <- t.test(a, b, paired = TRUE)
  put(ds, "t.mean_diff", tt$estimate, "t.test paired")
  put(ds, "t.t", tt$statistic, "t.test paired")
  put(ds, "t.df", tt$parameter, "t.test paired")
  put(ds, "t.p_two", tt$p.value, "t.test paired")
  put(ds, "t.ci_low", tt$conf.int[1], "t.test paired")
  put(ds, "t.ci_high", tt$conf.int[2], "t.test paired")
  put(ds, "t.p_greater", t.test(a, b, paired = TRUE, alternative = "greater")$p.value,
      "t.test paired greater")
  put(ds, "t.p_less", t.test(a, b, paired = TRUE, alternative = "less")$p.value,
      "t.test paired less")
  ci90 <- t.test(a, b, paired = TRUE, conf.level = 0.9)$conf.int
  put(ds, "t.ci90_low", ci90[1], "t.test paired conf.level=0.9")
  put(ds, "t.ci90_high", ci90[2], "t.test paired conf.level=0.9")
  put(ds, "t.dz", mean(a - b) / sd(a - b), "mean(d)/sd(d)")
  # Wilcoxon signed-rank, three settings
  for (mode in c("wxR", "wxR_nocorr", "wxR_approx")) {
    ex <- if (mode == "wxR_approx") FALSE else NULL
    co <- mode != "wxR_nocorr"
    how <- sprintf("wilcox.test paired exact=%s correct=%s",
                   if (is.null(ex)) "NULL" else "FALSE", co)
    w2 <- wilcox.test(a, b, paired = TRUE, exact = ex, correct = co)
    put(ds, paste0(mode, ".v"), w2$statistic, how)
    put(ds, paste0(mode, ".p_two"), w2$p.value, how)
    put(ds, paste0(mode, ".p_greater"),
        wilcox.test(a, b, paired = TRUE, exact = ex, correct = co,
                    alternative = "greater")$p.value, paste(how, "greater"))
    put(ds, paste0(mode, ".p_less"),
        wilcox.test(a, b, paired = TRUE, exact = ex, correct = co,
                    alternative = "less")$p.value, paste(how, "less"))
  }
  if (n >= 3 && sd(b) > 0) {
    # OLS of b on a (skipped when b is constant: panseval reports an error there)
    fit <- summary(lm(b ~ a))
    co <- fit$coefficients
    put(ds, "lm.intercept", co[1, 1], "lm(b ~ a)")
    put(ds, "lm.slope", co[2, 1], "lm(b ~ a)")
    put(ds, "lm.intercept_se", co[1, 2], "summary(lm(b ~ a))")
    put(ds, "lm.slope_se", co[2, 2], "summary(lm(b ~ a))")
    put(ds, "lm.intercept_p", co[1, 4], "summary(lm(b ~ a))")
    put(ds, "lm.slope_p", co[2, 4], "summary(lm(b ~ a))")
    put(ds, "lm.r2", fit$r.squared, "summary(lm(b ~ a))$r.squared")
    ct <- cor.test(a, b)
    put(ds, "pearson.r", ct$estimate, "cor.test pearson")
    put(ds, "pearson.p", ct$p.value, "cor.test pearson")
    if (n >= 4) {
      put(ds, "pearson.ci_low", ct$conf.int[1], "cor.test pearson")
      put(ds, "pearson.ci_high", ct$conf.int[2], "cor.test pearson")
    }
    put(ds, "spearman.rho", cor(a, b, method = "spearman"), "cor spearman")
  }
  # Bland-Altman of b against a (d = b - a), written out from its definition
  d <- b - a
  k <- qnorm(0.975)
  tq <- qt(0.975, n - 1)
  bias <- mean(d); s <- sd(d)
  put(ds, "ba.bias", bias, "mean(b - a)")
  put(ds, "ba.sd", s, "sd(b - a)")
  put(ds, "ba.loa_low", bias - k * s, "bias - qnorm(0.975) sd")
  put(ds, "ba.loa_high", bias + k * s, "bias + qnorm(0.975) sd")
  put(ds, "ba.bias_ci_low", bias - tq * s / sqrt(n), "bias - qt(0.975, n-1) sd/sqrt(n)")
  put(ds, "ba.bias_ci_high", bias + tq * s / sqrt(n), "bias + qt(0.975, n-1) sd/sqrt(n)")
  se_loa <- sqrt(3 * s^2 / n)
  put(ds, "ba.loa_low_ci_low", bias - k * s - tq * se_loa, "LoA - qt sqrt(3 s^2/n)")
  put(ds, "ba.loa_low_ci_high", bias - k * s + tq * se_loa, "LoA + qt sqrt(3 s^2/n)")
  put(ds, "ba.loa_high_ci_low", bias + k * s - tq * se_loa, "LoA - qt sqrt(3 s^2/n)")
  put(ds, "ba.loa_high_ci_high", bias + k * s + tq * se_loa, "LoA + qt sqrt(3 s^2/n)")
}
res <- do.call(rbind, out)
con <- file("tests/golden/stats/paired_R.tsv", "w")
writeLines("# written by tests/reference/stats_paired.R from tests/golden/stats/paired_data.tsv", con)
write.table(res, con, sep = "\t", quote = FALSE, row.names = FALSE)
close(con)

# ---- distributions --------------------------------------------------------------------------
rows <- list()
dput_ <- function(fn, a1, a2, a3, v) {
  rows[[length(rows) + 1]] <<- data.frame(func = fn, a1 = sprintf("%.17g", a1),
                                          a2 = sprintf("%.17g", a2), a3 = sprintf("%.17g", a3),
                                          value = sprintf("%.17g", v), source = src)
}
dfs <- c(1, 2, 3, 5, 9, 29, 30, 31, 99, 999, 12345, 5e5)
ps <- c(1e-12, 1e-6, 0.001, 0.025, 0.05, 0.3, 0.5, 0.7, 0.95, 0.975, 0.995, 1 - 1e-9)
xs <- c(-30, -4, -1.5, -0.2, 0, 0.3, 1.96, 2.5, 6, 40)
for (df in dfs) {
  for (p in ps) dput_("qt", p, df, 0, qt(p, df))
  for (x in xs) {
    dput_("pt", x, df, 0, pt(x, df))
    dput_("pt_upper", x, df, 0, pt(x, df, lower.tail = FALSE))
  }
}
fdf <- list(c(1, 1), c(2, 10), c(9, 999), c(3, 57), c(20, 20), c(1, 500), c(50, 3), c(7.5, 12.25))
fx <- c(0.001, 0.2, 0.9, 1, 1.7, 3.2, 8, 60, 1e4)
for (d2 in fdf) {
  for (p in ps) dput_("qf", p, d2[1], d2[2], qf(p, d2[1], d2[2]))
  for (x in fx) {
    dput_("pf", x, d2[1], d2[2], pf(x, d2[1], d2[2]))
    dput_("pf_upper", x, d2[1], d2[2], pf(x, d2[1], d2[2], lower.tail = FALSE))
  }
}
for (x in c(-38, -8, -3, -1.96, -0.5, 0, 0.1, 1.644, 5, 9, 37)) {
  dput_("pnorm", x, 0, 0, pnorm(x))
  dput_("pnorm_upper", x, 0, 0, pnorm(x, lower.tail = FALSE))
}
for (p in ps) dput_("qnorm", p, 0, 0, qnorm(p))
for (df in c(1, 2, 4, 10, 57, 300)) for (x in c(0.01, 0.5, 1, 3.84, 10, 50, 400))
  dput_("pchisq_upper", x, df, 0, pchisq(x, df, lower.tail = FALSE))
con <- file("tests/golden/stats/dist_R.tsv", "w")
writeLines("# written by tests/reference/stats_paired.R (qt, pt, qf, pf, pnorm, qnorm, pchisq)", con)
write.table(do.call(rbind, rows), con, sep = "\t", quote = FALSE, row.names = FALSE)
close(con)

# ---- p.adjust --------------------------------------------------------------------------------
set.seed(7)
vecs <- list(
  with_na = c(0.01, 0.02, NA, 0.04, 0.03, 0.5, 0.01, 1e-5, 0.9, 0.04),
  ties = c(0.05, 0.05, 0.05, 0.01, 0.2),
  single = c(0.03),
  all_na = c(NA, NA),
  random50 = runif(50)^3)
rows <- list()
for (nm in names(vecs)) {
  p <- vecs[[nm]]
  for (m in c("bonferroni", "holm", "BH")) {
    adj <- p.adjust(p, m)
    for (i in seq_along(p))
      rows[[length(rows) + 1]] <- data.frame(vector = nm, i = i - 1,
                                             p = sprintf("%.17g", p[i]), method = m,
                                             adjusted = sprintf("%.17g", adj[i]),
                                             source = paste(src, "p.adjust"))
  }
}
con <- file("tests/golden/stats/padjust_R.tsv", "w")
writeLines("# written by tests/reference/stats_paired.R (p.adjust; NA written as NA)", con)
write.table(do.call(rbind, rows), con, sep = "\t", quote = FALSE, row.names = FALSE)
close(con)
