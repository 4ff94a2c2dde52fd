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
              "asgan": "ASGAN", "dat": "DAT", "datt": "DATT", "dat_reference": "DAT (ref.)",
              "datt_reference": "DATT (ref.)"}
PAPER_TABLE3 = {  # row -> FID per column of TABLE3_REGS
    "gan": (30.20, 27.80, 27.25, 29.76, 29.37, 27.89, 27.24, 26.98, 26.77),
    "lsgan": (25.20, 24.40, 25.38, 28.67, 26.49, 26.05, 26.46, 24.38, 24.35),
    "wgan": (29.43, 26.03, 26.90, 43.06, 27.26, 26.83, 25.98, 25.67, 25.66),
}

# Tables 1 and 2 (not run here): the models and datasets of Table 2, and n_iter of Table 1.
TABLE12_MODELS = {"sngan": "SNGAN", "ssgan": "SSGAN", "infomaxgan": "InfoMaxGAN"}
TABLE12_DATASETS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "stl10": "STL-10",
                    "tinyimagenet": "Tiny-ImageNet", "lsun_bedroom": "LSUN-Bedroom"}
TABLE12_ITERS = 100_000
# Table 2: metric -> dataset -> split (FID, KID) -> values in the order
# (SNGAN, SNGAN-DAT, SSGAN, SSGAN-DAT, InfoMaxGAN, InfoMaxGAN-DAT); IS has no split, none for LSUN-Bedroom.
PAPER_TABLE2 = {
    "fid": {
        "lsun_bedroom": {"train": (27.26, 24.10, 23.54, 20.43, 35.69, 34.21),
                         "test": (86.10, 83.50, 85.10, 82.20, 87.14, 86.17)},
        "tinyimagenet": {"train": (47.14, 43.40, 40.83, 38.98, 41.81, 38.83),
                         "test": (52.29, 48.72, 45.79, 44.63, 47.26, 43.97)},
        "stl10": {"train": (42.62, 41.05, 39.84, 35.64, 42.39, 40.77),
                  "test": (62.03, 60.41, 56.56, 52.71, 61.93, 59.07)},
        "cifar100": {"train": (23.70, 21.09, 22.43, 19.86, 21.36, 20.46),
                     "test": (28.48, 26.49, 27.61, 24.67, 26.36, 25.28)},
        "cifar10": {"train": (20.05, 17.93, 16.75, 15.34, 17.71, 17.69),
                    "test": (24.19, 22.46, 21.23, 19.45, 22.03, 21.88)},
    },
    "kid": {
        "lsun_bedroom": {"train": (0.0313, 0.0286, 0.0267, 0.0246, 0.0373, 0.0369),
                         "test": (0.0324, 0.0296, 0.0298, 0.0275, 0.0388, 0.0375)},
        "tinyimagenet": {"train": (0.0411, 0.0391, 0.0355, 0.0337, 0.0371, 0.0323),
                         "test": (0.0415, 0.0393, 0.0371, 0.0341, 0.0372, 0.0332)},
        "stl10": {"train": (0.0391, 0.0380, 0.0388, 0.0336, 0.0418, 0.0384),
                  "test": (0.0445, 0.0428, 0.0403, 0.0352, 0.0443, 0.0404)},
        "cifar100": {"train": (0.0158, 0.0160, 0.0155, 0.0147, 0.0152, 0.0140),
                     "test": (0.0164, 0.0161, 0.0160, 0.0148, 0.0153, 0.0142)},
        "cifar10": {"train": (0.0149, 0.0133, 0.0125, 0.0116, 0.0134, 0.0128),
                    "test": (0.0150, 0.0142, 0.0128, 0.0118, 0.0139, 0.0141)},
    },
    "is": {
        "lsun_bedroom": (None,) * 6,
        "tinyimagenet": (8.17, 8.44, 8.63, 8.95, 8.80, 9.18),
        "stl10": (8.34, 8.45, 8.59, 8.72, 8.28, 8.57),
        "cifar100": (7.66, 7.82, 7.74, 8.09, 8.02, 8.06),
        "cifar10": (7.84, 7.97, 8.13, 8.25, 8.01, 8.07),
    },
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
    "pilot": "(no claim: the step budgets of the sections below, chosen before their runs)",
    "figure3": "DAT fits the mixtures faster and, on the imbalanced one, keeps the small modes the baseline loses.",
    "figure1": "A DAT discriminator needs many more attack steps (K) to be fooled than a baseline one.",
    "table3": "DAT and DATT give the best FID of the nine regularizers under each of the GAN, LSGAN and WGAN losses.",
    "figures45": "With DAT, DCGAN and WGAN train better over the learning rates, beta1 and n_dis of the figures "
                 "(DCGAN at lr 2e-3 only trains with DAT).",
    "lipschitz": "DAT adaptively minimizes D's Lipschitz constant, like 0-GP when D is right and less when it is wrong.",
    "cost": "(no claim in the paper)",
    "tables12": "DAT improves FID, KID and IS of SNGAN, SSGAN and InfoMaxGAN on five datasets (Table 2).",
}


def figure1_line() -> str:
    """The paper's Figure 1 numbers as the results page quotes them."""
    none, dat = FIGURE1_K["none"], FIGURE1_K["dat"]
    return (f"Paper (MNIST DCGAN): K_fake {none['k_fake']:g} → {dat['k_fake']:g}, "
            f"K_real {none['k_real']:g} → {dat['k_real']:g} with adversarial training.")
