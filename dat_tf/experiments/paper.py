"""What the study takes from the paper: its numbers, its experiment grid and its claims, typed in once.

Everything else on the results page is computed from our own runs.  The keys
are our names: a Table 3 row is one of our losses, a column one of our
regularizers.
"""

# Table 3 (FID on CIFAR-10): rows are the paper's losses, columns its regularizers.
TABLE3_LOSSES = {"gan": "ns", "lsgan": "lsgan", "wgan": "wgan"}  # paper row -> our loss name
ROW_TITLES = {"gan": "GAN", "lsgan": "LSGAN", "wgan": "WGAN"}
TABLE3_REGS = ("none", "gp", "lp", "zero_gp", "ar", "rfm", "asgan", "dat", "datt")  # the paper's column order
REG_TITLES = {"none": "None", "gp": "GP", "lp": "LP", "zero_gp": "0-GP", "ar": "AR", "rfm": "RFM",
              "asgan": "ASGAN", "dat": "DAT", "datt": "DATT"}
PAPER_TABLE3 = {  # row -> FID per column of TABLE3_REGS
    "gan": (30.20, 27.80, 27.25, 29.76, 29.37, 27.89, 27.24, 26.98, 26.77),
    "lsgan": (25.20, 24.40, 25.38, 28.67, 26.49, 26.05, 26.46, 24.38, 24.35),
    "wgan": (29.43, 26.03, 26.90, 43.06, 27.26, 26.83, 25.98, 25.67, 25.66),
}

# Figures 4 and 5: (the figure's setting, the configs/ flagfile stem holding it); each also runs with its _dat twin.
FIGURES45_SETTINGS = (
    ("DCGAN lr 2e-4, b1 0.5, it 1", "dcgan_cifar10_lr0.0002_b0.5_it1"),
    ("DCGAN lr 2e-4, b1 0.5, it 5", "dcgan_cifar10_lr0.0002_b0.5_it5"),
    ("DCGAN lr 2e-4, b1 0, it 1", "dcgan_cifar10_lr0.0002_b0_it1"),
    ("DCGAN lr 2e-3, b1 0.5, it 1", "dcgan_cifar10_lr0.002_b0.5_it1"),
    ("WGAN lr 5e-5, b1 0.5, it 1", "wgan_cifar10_lr5e-05_b0.5_it1"),
    ("WGAN lr 5e-5, b1 0.5, it 5", "wgan_cifar10_lr5e-05_b0.5_it5"),
)

# Figure 3: generator steps at which the 2D mixtures are shown (2k, 3k and 10k iterations).
FIGURE3_CHECKPOINTS = (2000, 3000, 10000)

# Figure 1 (MNIST DCGAN): mean attack steps K without and with adversarial training, and Eq. (1)'s tolerance.
FIGURE1_K = {"none": {"k_fake": 3.2, "k_real": 3.88}, "dat": {"k_fake": 37.36, "k_real": 7.44}}
FIGURE1_TOL = 0.02

# The claim each section of the results page tests, in the paper's terms.
CLAIMS = {
    "figure3": "DAT fits the mixtures faster and, on the imbalanced one, keeps the small modes the baseline loses.",
    "figure1": "A DAT discriminator needs many more attack steps (K) to be fooled than a baseline one.",
    "table3": "DAT and DATT give the best FID of the nine regularizers under each of the GAN, LSGAN and WGAN losses.",
    "figures45": "With DAT, DCGAN and WGAN train better over the learning rates, beta1 and n_dis of the figures "
                 "(DCGAN at lr 2e-3 only trains with DAT).",
    "lipschitz": "DAT adaptively minimizes D's Lipschitz constant, like 0-GP when D is right and less when it is wrong.",
    "cost": "(no claim in the paper)",
}


def figure1_line() -> str:
    """The paper's Figure 1 numbers as the results page quotes them."""
    none, dat = FIGURE1_K["none"], FIGURE1_K["dat"]
    return (f"Paper (MNIST DCGAN): K_fake {none['k_fake']:g} → {dat['k_fake']:g}, "
            f"K_real {none['k_real']:g} → {dat['k_real']:g} with adversarial training.")
